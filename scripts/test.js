// Runs every test/**/*.test.ts with node's built-in test runner (TypeScript via tsx).
// Node 20's --test takes no globs, so the files are listed here.
import {spawnSync} from 'node:child_process'
import {readdirSync, statSync} from 'node:fs'
import {join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const filter = process.argv.slice(2)
const files = []
const walk = (dir) => {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) walk(p)
    else if (name.endsWith('.test.ts')) files.push(relative(root, p))
  }
}
walk(join(root, 'test'))
const chosen = filter.length ? files.filter((f) => filter.some((x) => f.includes(x))) : files
if (chosen.length === 0) {
  console.error('no test files matched')
  process.exit(1)
}
const reporter = process.env.CI ? ['--test-reporter=spec'] : []
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...reporter, ...chosen], {cwd: root, stdio: 'inherit'})
process.exit(r.status ?? 1)
