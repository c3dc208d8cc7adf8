// oclif.manifest.json must be what `node scripts/manifest.js` would write now,
// from the built commands, and the built commands must be the ones in src/:
// a stale manifest (or a stale build behind it) fails here.
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {copyFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, relative} from 'node:path'
import {pathToFileURL} from 'node:url'
import {describe, it} from 'node:test'
import {ROOT} from './helpers.js'

const committed = () => JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8'))

/** Command ids as oclif derives them from src/commands (peers/index.ts is `peers`, peers/add.ts is `peers:add`). */
function sourceCommands(): Map<string, string> {
  const dir = join(ROOT, 'src', 'commands')
  const out = new Map<string, string>()
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name)
      if (statSync(p).isDirectory()) walk(p)
      else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) {
        const parts = relative(dir, p).slice(0, -3).split('/')
        if (parts.at(-1) === 'index') parts.pop()
        out.set(parts.join(':'), p)
      }
    }
  }
  walk(dir)
  return out
}

describe('oclif.manifest.json', () => {
  it('equals what scripts/manifest.js generates from the current build', () => {
    // Run the real script in a scratch root with a copy of dist/ (oclif records
    // paths relative to the root) and the same node_modules/, so the committed
    // file is not touched.
    const scratch = mkdtempSync(join(tmpdir(), 'polar-manifest-'))
    try {
      mkdirSync(join(scratch, 'scripts'))
      copyFileSync(join(ROOT, 'scripts', 'manifest.js'), join(scratch, 'scripts', 'manifest.js'))
      copyFileSync(join(ROOT, 'package.json'), join(scratch, 'package.json'))
      copyFileSync(join(ROOT, 'tsconfig.json'), join(scratch, 'tsconfig.json'))
      cpSync(join(ROOT, 'dist'), join(scratch, 'dist'), {recursive: true})
      for (const d of ['node_modules', 'src']) symlinkSync(join(ROOT, d), join(scratch, d))
      execFileSync(process.execPath, [join(scratch, 'scripts', 'manifest.js')], {cwd: scratch, stdio: ['ignore', 'ignore', 'pipe'], env: {...process.env, NODE_OPTIONS: ''}})
      const fresh = JSON.parse(readFileSync(join(scratch, 'oclif.manifest.json'), 'utf8'))
      assert.deepEqual(committed(), fresh, 'oclif.manifest.json is stale: run `npm run build`')
    } finally {
      rmSync(scratch, {recursive: true, force: true})
    }
  })

  it('lists exactly the commands in src/commands, with their current flags, args and examples', async () => {
    const manifest = committed()
    const {version} = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
    assert.equal(manifest.version, version)
    const src = sourceCommands()
    assert.deepEqual(Object.keys(manifest.commands).sort(), [...src.keys()].sort())
    for (const [id, path] of src) {
      const cls = (await import(pathToFileURL(path).href)).default
      const entry = manifest.commands[id]
      assert.equal(entry.summary, cls.summary, `${id} summary`)
      assert.equal(entry.description, cls.description, `${id} description`)
      assert.deepEqual(entry.examples, cls.examples, `${id} examples`)
      const flags = Object.keys({...cls.baseFlags, ...cls.flags})
      if (cls.enableJsonFlag) flags.push('json')
      assert.deepEqual(Object.keys(entry.flags).sort(), [...new Set(flags)].sort(), `${id} flags`)
      assert.deepEqual(Object.keys(entry.args).sort(), Object.keys(cls.args ?? {}).sort(), `${id} args`)
    }
  })
})

// `npm test` rebuilds, and the build rewrites oclif.manifest.json: if that changed
// the file, the committed manifest was stale (CI runs on a fresh clone, so this
// is exactly what a forgotten regeneration looks like there).
describe('committed manifest', () => {
  it('is what the build generates (no uncommitted change after building)', (t) => {
    let tracked = true
    try {
      execFileSync('git', ['ls-files', '--error-unmatch', 'oclif.manifest.json'], {cwd: ROOT, stdio: 'ignore'})
    } catch {
      tracked = false
    }
    if (!tracked) return t.skip('not a git checkout')
    const diff = execFileSync('git', ['diff', '--stat', '--', 'oclif.manifest.json'], {cwd: ROOT, encoding: 'utf8'})
    assert.equal(diff, '', `oclif.manifest.json differs from the committed one after the build; commit the regenerated file:\n${diff}`)
  })
})
