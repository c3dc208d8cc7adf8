// Other people build in this working tree while the bench runs (`npm run
// build` and `npm test` start with `rm -rf dist`). The rows therefore run a
// private copy of the built CLI: bin/, dist/, package.json and
// oclif.manifest.json copied to a temp dir, node_modules linked.
import {cpSync, existsSync, mkdtempSync, rmSync, symlinkSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {repoRoot} from './proc.js'

export function snapshotCli() {
  const dir = mkdtempSync(join(tmpdir(), 'polar-bench-cli-'))
  try {
    for (const p of ['bin', 'dist', 'package.json', 'oclif.manifest.json']) {
      const from = join(repoRoot, p)
      if (!existsSync(from)) throw new Error(`${p} is missing (a build running elsewhere?)`)
      cpSync(from, join(dir, p), {recursive: true})
    }
    symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir')
    return {dir, bin: join(dir, 'bin', 'run.js'), remove: () => rmSync(dir, {recursive: true, force: true})}
  } catch (e) {
    rmSync(dir, {recursive: true, force: true})
    throw e
  }
}
