#!/usr/bin/env node
// The benchmark runner: `npm run bench [-- --quick] [FILTER…]`.
//
// A row module exports {name, rows, describe, check?(), run({quick, log})}:
// rows names the rows it produces (for filters and --list), run
// returns result rows (bench/lib/row.js makeRow / failedRow); check returns
// null or why the peer tool is missing. Add a module to MODULES to add rows.
import {spawnSync} from 'node:child_process'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {machine} from './lib/machine.js'
import {mustSucceed, node, repoRoot, timeProcess, usePolarBin} from './lib/proc.js'
import {snapshotCli} from './lib/snapshot.js'
import {renderMarkdown, renderSvg, verdict} from './lib/report.js'

const MODULES = ['./push.js', './pull.js', './startup.js', './node-startup.js', './versions.js', './network.js']
// Later: './delta.js' (versions)

const resultsPath = fileURLToPath(new URL('./results.json', import.meta.url))
const docsDir = fileURLToPath(new URL('../docs/', import.meta.url))
const log = (s) => process.stderr.write(`${s}\n`)

const USAGE = `usage: npm run bench -- [--quick] [--no-build] [--strict] [--list] [FILTER…]
  --quick     small inputs and fewer runs (a couple of minutes)
  --no-build  use the current dist/ instead of running npm run build first
  --strict    exit 1 when a binding goal is not met
  --list      list the row modules and exit
  FILTER      run only the modules whose name or a row name contains one of these
              (e.g. push, startup, pull); the other rows keep their last results`

async function main() {
  const argv = process.argv.slice(2)
  const flags = new Set(argv.filter((a) => a.startsWith('--')))
  const filters = argv.filter((a) => !a.startsWith('--'))
  for (const f of flags) {
    if (!['--quick', '--no-build', '--strict', '--list', '--help'].includes(f)) {
      log(`unknown option ${f}\n${USAGE}`)
      return 2
    }
  }
  if (flags.has('--help')) { log(USAGE); return 0 }
  const quick = flags.has('--quick')
  const modules = []
  for (const m of MODULES) modules.push((await import(m)).default)
  if (flags.has('--list')) {
    for (const m of modules) process.stdout.write(`${m.name}: ${m.rows.join(', ')}\n  ${m.describe.split('\n').join('\n  ')}\n\n`)
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
    let rows
    if (missing) {
      log(`  SKIPPED: ${missing}`)
      rows = [{name: m.name, peer: '—', polar: null, peerValue: null, unit: '', ratio: null, goal: '—', goalValue: null, met: false, status: 'peer-missing', error: missing}]
    } else {
      try {
        rows = await m.run({quick, log})
      } catch (e) {
        log(`  FAILED: ${e.stack ?? e}`)
        rows = [{name: m.name, peer: '—', polar: null, peerValue: null, unit: '', ratio: null, goal: '—', goalValue: null, met: false, status: 'error', error: String(e.message ?? e).slice(0, 2000)}]
      }
    }
    for (const r of rows) {
      Object.assign(r, {module: m.name, mode: quick ? 'quick' : 'full', date, machine: env})
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
  mkdirSync(docsDir, {recursive: true})
  writeFileSync(`${docsDir}benchmarks.md`, renderMarkdown(rows, modules))
  writeFileSync(`${docsDir}benchmarks.svg`, renderSvg(rows))

  process.stdout.write(`\n${rows.map(summary).join('\n')}\n`)
  log(`\n${((Date.now() - t0) / 1000).toFixed(0)} s; wrote bench/results.json, docs/benchmarks.md, docs/benchmarks.svg`)
  if (fresh.some((r) => r.status !== 'ok')) return 1
  if (flags.has('--strict') && fresh.some((r) => !r.informational && !r.met)) return 1
  return 0
}

function summary(r) {
  if (r.status !== 'ok') return `${r.name}: not measured (${r.status}): ${firstLine(r.error)}`
  const f = (x) => (x >= 100 ? x.toFixed(0) : x.toPrecision(3))
  return `${r.name}: polar ${f(r.polar)} ${r.unit}, ${r.peer} ${f(r.peerValue)} ${r.unit}, ratio ${r.ratio.toFixed(2)} (goal ${r.goal}${r.informational ? ', informational' : ''}): ${verdict(r)}`
}

function firstLine(e) {
  const s = String(e?.message ?? e)
  const line = s.split('\n').find((l) => /error/i.test(l) && !/^\s*at /.test(l)) ?? s.split('\n')[0]
  return line.length > 300 ? line.slice(0, 299) + '…' : line
}

process.exitCode = await main()
