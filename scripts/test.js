// Runs every test/**/*.test.ts with node's built-in test runner (TypeScript via tsx),
// then, when no filter is given, the quick fault suite (`node chaos/run.mjs --quick`,
// real nodes on 127.0.0.1; docs/chaos.md). Node 20's --test takes no globs, so the
// files are listed here.
//   node scripts/test.js                 unit/integration tests, then the quick fault suite
//   node scripts/test.js store net/      only the test files whose path contains a filter
//   node scripts/test.js chaos           only the quick fault suite
//   POLAR_TEST_CHAOS=0 node scripts/test.js   everything but the fault suite
import {spawn, spawnSync} from 'node:child_process'
import {mkdtempSync, readdirSync, readFileSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
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
const chaos = filter.length ? filter.includes('chaos') : process.env.POLAR_TEST_CHAOS !== '0'
if (chosen.length === 0 && !chaos) {
  console.error('no test files matched')
  process.exit(1)
}

const counts = {passed: 0, failed: 0, skipped: 0}
let status = 0
if (chosen.length) {
  // The usual reporter on stdout, and TAP in a file for the closing count.
  const tmp = mkdtempSync(join(tmpdir(), 'polar-test-'))
  const tap = join(tmp, 'report.tap')
  const shown = process.env.CI || process.stdout.isTTY ? 'spec' : 'tap'
  const reporters = [`--test-reporter=${shown}`, '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`]
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...reporters, ...chosen], {cwd: root, stdio: 'inherit'})
  status = r.status ?? 1
  try {
    const text = readFileSync(tap, 'utf8')
    const n = (k) => Number(new RegExp(`^# ${k} (\\d+)$`, 'm').exec(text)?.[1] ?? 0)
    counts.passed += n('pass')
    counts.failed += n('fail') + n('cancelled')
    counts.skipped += n('skipped') + n('todo')
  } catch {
    if (status === 0) status = 1 // no report: the runner did not finish
  }
  rmSync(tmp, {recursive: true, force: true})
}

if (chaos) {
  console.log('\n# fault suite: node chaos/run.mjs --quick')
  // Streamed line by line as scenarios finish, and kept for the summary line.
  const r = await new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'chaos', 'run.mjs'), '--quick'], {cwd: root, stdio: ['ignore', 'pipe', 'inherit']})
    let stdout = ''
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (d) => { stdout += d; process.stdout.write(d) })
    child.on('error', (e) => resolve({status: 1, stdout: String(e)}))
    child.on('close', (code) => resolve({status: code ?? 1, stdout}))
  })
  const m = /^TOTAL \d+ scenarios: (\d+) passed, (\d+) failed, (\d+) skipped/m.exec(r.stdout)
  if (m) {
    counts.passed += Number(m[1])
    counts.failed += Number(m[2])
    counts.skipped += Number(m[3])
  }
  if (r.status !== 0 || !m) {
    if (!m) counts.failed++
    status ||= r.status || 1
  }
}

console.log(`\ntotal: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`)
process.exit(status)
