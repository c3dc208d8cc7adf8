#!/usr/bin/env node
// The benchmark runner: `npm run bench [-- --quick] [FILTER…]`.
//
// A row module is a file bench/NAME.js whose default export is
// {name, rows, describe, check?(), run({quick, log})}: rows names the rows it
// produces (for filters, --list and "not run" rows), run returns result rows
// (bench/lib/row.js makeRow / failedRow); check returns null or why a peer
// tool is missing (then its rows are reported as not run). The runner finds
// row modules by itself: adding a file is enough (bench/README.md).
import {spawnSync} from 'node:child_process'
import {mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {machine} from './lib/machine.js'
import {mustSucceed, node, repoRoot, timeProcess, usePolarBin} from './lib/proc.js'
import {snapshotCli} from './lib/snapshot.js'
import {renderMarkdown, renderSvg, verdict} from './lib/report.js'

// The modules in ORDER come first in the table, in this order; any other
// bench/*.js with a row-module default export follows, by file name — listing
// a new module here is optional.
const ORDER = ['push.js', 'pull.js', 'startup.js', 'node-startup.js', 'versions.js', 'network.js', 'network64.js']
const NOT_MODULES = new Set(['run.js'])
/** `--quick` should finish in about five minutes on the idle 2-core machine (the build not included). */
const QUICK_BUDGET_S = 330

/** The row modules in bench/ (a file whose default export has name, rows and run). */
async function findModules() {
  const dir = fileURLToPath(new URL('./', import.meta.url))
  const files = readdirSync(dir).filter((f) => f.endsWith('.js') && !NOT_MODULES.has(f))
  const rank = (f) => (ORDER.includes(f) ? ORDER.indexOf(f) : ORDER.length)
  files.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
  const modules = []
  for (const f of files) {
    let m
    try {
      m = (await import(pathToFileURL(`${dir}${f}`).href)).default
    } catch (e) {
      // A module that does not load is reported as an error row, not the end of the run.
      log(`bench/${f} does not load: ${e.message ?? e}`)
      const name = f.replace(/\.js$/, '')
      modules.push({name, rows: [name], describe: '', file: f, run: async () => { throw new Error(`bench/${f} does not load: ${e.message ?? e}`) }})
      continue
    }
    if (m && typeof m.name === 'string' && Array.isArray(m.rows) && typeof m.run === 'function') modules.push({describe: '', ...m, file: f})
    else log(`note: bench/${f} is not a row module (no default export with name, rows, run); ignored`)
  }
  return modules
}

const resultsPath = fileURLToPath(new URL('./results.json', import.meta.url))
const docsDir = fileURLToPath(new URL('../docs/', import.meta.url))
const log = (s) => process.stderr.write(`${s}\n`)

const USAGE = `usage: npm run bench -- [--quick] [--no-build] [--strict] [--list] [FILTER…]
  --quick     small inputs, fewer runs, 8 nodes instead of 64 (about five minutes;
              npm run bench --quick works too)
  --no-build  use the current dist/ instead of running npm run build first
  --strict    exit 1 when a binding goal is not met
  --list      list the row modules and exit
  --report-only  rewrite docs/benchmarks.md and .svg from bench/results.json, running nothing
  FILTER      run only the modules whose name or a row name contains one of these
              (e.g. push, startup, pull, network64: the 64-node rows alone); the other
              rows keep their last results`

async function main() {
  const argv = process.argv.slice(2)
  const flags = new Set(argv.filter((a) => a.startsWith('--')))
  const filters = argv.filter((a) => !a.startsWith('--'))
  for (const f of flags) {
    if (!['--quick', '--no-build', '--strict', '--list', '--report-only', '--help'].includes(f)) {
      log(`unknown option ${f}\n${USAGE}`)
      return 2
    }
  }
  if (flags.has('--help')) { log(USAGE); return 0 }
  // `npm run bench --quick` (no `--`) reaches us as npm's config, not as an argument.
  const quick = flags.has('--quick') || process.env.npm_config_quick === 'true'
  const modules = await findModules()
  if (flags.has('--report-only')) {
    // Rewrite docs/benchmarks.md and .svg from bench/results.json as it is (after a merge, say).
    let rows
    try { rows = JSON.parse(readFileSync(resultsPath, 'utf8')) } catch (e) { log(`cannot read ${resultsPath}: ${e.message}`); return 1 }
    const order = new Map(modules.map((m, i) => [m.name, i]))
    rows = rows.map((r, i) => [r, i]).sort(([a, i], [b, j]) => (order.get(a.module) ?? 1e9) - (order.get(b.module) ?? 1e9) || i - j).map(([r]) => r)
    writeReport(rows, modules)
    process.stdout.write(`${rows.map(summary).join('\n')}\n`)
    log('wrote docs/benchmarks.md, docs/benchmarks.svg from bench/results.json (nothing was run)')
    return 0
  }
  if (flags.has('--list')) {
    for (const m of modules) process.stdout.write(`${m.name} (bench/${m.file}): ${m.rows.join(', ')}${m.check?.() ? `  [NOT RUNNABLE HERE: ${m.check()}]` : ''}\n  ${m.describe.split('\n').join('\n  ')}\n\n`)
    return 0
  }
  const chosen = filters.length ? modules.filter((m) => filters.some((f) => [m.name, ...m.rows].some((n) => n.includes(f)))) : modules
  if (chosen.length === 0) {
    log(`no row module matches ${filters.join(' ')} (modules: ${modules.map((m) => m.name).join(', ')})`)
    return 2
  }

  // Build (unless --no-build), copy the built CLI aside, check the copy runs;
  // once more if a concurrent build elsewhere removed dist/ under us.
  let cli
  for (let attempt = 1; !cli; attempt++) {
    try {
      if (!flags.has('--no-build')) {
        log('building polar (npm run build) …')
        const b = spawnSync('npm', ['run', 'build'], {cwd: repoRoot, stdio: ['ignore', 2, 2]})
        if (b.status !== 0) throw new Error('npm run build failed: the benchmarks need a built polar')
      }
      const snap = snapshotCli()
      try {
        const v = mustSucceed(await timeProcess(node, [snap.bin, '--version']), 'polar --version')
        log(`${v.stdout.trim()} (copied to ${snap.dir}), ${quick ? 'quick' : 'full'} mode`)
        cli = snap
      } catch (e) {
        snap.remove()
        throw e
      }
    } catch (e) {
      if (attempt >= 2) { log(String(e.message ?? e)); return 1 }
      log(`${firstLine(e)} — retrying`)
    }
  }
  usePolarBin(cli.bin)
  try {
    return await runRows({chosen, modules, quick, flags})
  } finally {
    cli.remove()
  }
}

async function runRows({chosen, modules, quick, flags}) {
  const env = machine()
  const date = new Date().toISOString()
  const t0 = Date.now()
  const fresh = []
  for (const m of chosen) {
    log(`\n== ${m.name}`)
    const missing = m.check?.()
    const tm = Date.now()
    let rows
    if (missing) {
      // Not run: one row per row the module would have made, saying why.
      log(`  NOT RUN (peer tool missing): ${missing}`)
      rows = m.rows.map((name) => ({name, peer: m.peer ?? '—', polar: null, peerValue: null, unit: '', ratio: null, goal: '—', goalValue: null, met: false, status: 'peer-missing', error: missing}))
    } else {
      try {
        rows = await m.run({quick, log})
      } catch (e) {
        log(`  FAILED: ${e.stack ?? e}`)
        rows = [{name: m.name, peer: '—', polar: null, peerValue: null, unit: '', ratio: null, goal: '—', goalValue: null, met: false, status: 'error', error: String(e.message ?? e).slice(0, 2000)}]
      }
    }
    const seconds = Math.round((Date.now() - tm) / 100) / 10
    log(`  (${m.name}: ${seconds} s)`)
    for (const r of rows) {
      Object.assign(r, {module: m.name, mode: quick ? 'quick' : 'full', date, machine: env, moduleSeconds: seconds})
      log(`  ${summary(r)}`)
    }
    fresh.push(...rows)
  }

  // Merge: the modules that ran replace their old rows; others keep theirs.
  let old = []
  try { old = JSON.parse(readFileSync(resultsPath, 'utf8')) } catch { /* first run */ }
  if (!Array.isArray(old)) old = []
  const ran = new Set(chosen.map((m) => m.name))
  const order = new Map(modules.map((m, i) => [m.name, i]))
  const rows = [...old.filter((r) => !ran.has(r.module) && order.has(r.module)), ...fresh]
    .map((r, i) => [r, i]).sort(([a, i], [b, j]) => order.get(a.module) - order.get(b.module) || i - j).map(([r]) => r)

  writeFileSync(resultsPath, JSON.stringify(rows, null, 2) + '\n')
  writeReport(rows, modules)

  process.stdout.write(`\n${rows.map(summary).join('\n')}\n`)
  const total = (Date.now() - t0) / 1000
  log(`\n${total.toFixed(0)} s; wrote bench/results.json, docs/benchmarks.md, docs/benchmarks.svg`)
  if (quick && total > QUICK_BUDGET_S) log(`WARNING: this quick run took ${total.toFixed(0)} s, over its ${QUICK_BUDGET_S} s budget: make the slow modules' quick mode smaller (per-module seconds are in bench/results.json, moduleSeconds)`)
  const notRun = fresh.filter((r) => r.status === 'peer-missing')
  if (notRun.length) log(`NOT RUN for want of a peer tool: ${notRun.map((r) => r.name).join(', ')} (see above)`)
  if (fresh.some((r) => r.status !== 'ok')) return 1
  if (flags.has('--strict') && fresh.some((r) => !r.informational && !r.met)) return 1
  return 0
}

function writeReport(rows, modules) {
  mkdirSync(docsDir, {recursive: true})
  writeFileSync(`${docsDir}benchmarks.md`, renderMarkdown(rows, modules))
  writeFileSync(`${docsDir}benchmarks.svg`, renderSvg(rows))
}

function summary(r) {
  if (r.status === 'peer-missing') return `${r.name}: NOT RUN (peer tool missing): ${firstLine(r.error).replace(/^peer tool missing:\s*/, '')}`
  if (r.status !== 'ok') return `${r.name}: not measured (${r.status}): ${firstLine(r.error)}`
  const f = (x) => (x >= 100 ? x.toFixed(0) : x.toPrecision(3))
  // A row whose peer is its goal ("goal 50 ms") names the value already.
  const peer = /^(goal|target|all) /.test(r.peer) ? r.peer : `${r.peer} ${f(r.peerValue)} ${r.unit}`
  return `${r.name}: polar ${f(r.polar)} ${r.unit}, ${peer}, ratio ${r.ratio.toFixed(2)} (goal ${r.goal}${r.informational ? ', informational' : ''}): ${verdict(r)}${r.note ? `\n    note: ${r.note}` : ''}`
}

function firstLine(e) {
  const s = String(e?.message ?? e)
  const line = s.split('\n').find((l) => /error/i.test(l) && !/^\s*at /.test(l)) ?? s.split('\n')[0]
  return line.length > 300 ? line.slice(0, 299) + '…' : line
}

process.exitCode = await main()
