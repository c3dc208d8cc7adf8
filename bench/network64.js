#!/usr/bin/env node
// Rows of 64 nodes on this machine (issue 15 point 7), default settings:
// - "network convergence (64 nodes, 48 peers each)": node 0 first, then 63
//   nodes at once with `serve --seed <node 0>`; time until every node knows
//   at least 48 others;
// - "idle CPU of 64 nodes together": once settled, the CPU time all 64 use
//   over 30 s (utime + stime of /proc/PID/stat), as a share of one core;
// - "crowd at one seed (63 newcomers at once)": a fresh node 0, 63 fresh
//   nodes with no seed, then 63 `polar seed <node 0>` commands at the same
//   moment: how many nodes got in.
// Minutes long: `npm run bench` (full) runs it; `npm run bench -- network64`
// runs it alone; --quick runs it with 8 nodes (figures not comparable).
//   node bench/network64.js [--nodes N] [--quick]   (by hand, prints JSON)
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {performance} from 'node:perf_hooks'
import {fileURLToPath} from 'node:url'
import {knownPerNode, memoryReport, pollUntil, startSeedNode} from './network.js'
import {startNode} from './lib/polar-node.js'
import {cpuSecondsOf} from './lib/procfs.js'
import {childEnv, node as nodeBin, polarBin, timeProcess} from './lib/proc.js'
import {max, median, min} from './lib/stats.js'
import {makeRow, round} from './lib/row.js'

const FULL = {nodes: 64, need: 48, timeoutMs: 300_000, settleMs: 30_000, cpuWindowMs: 30_000, crowdWaitMs: 120_000}
const QUICK = {nodes: 8, need: 6, timeoutMs: 120_000, settleMs: 5_000, cpuWindowMs: 10_000, crowdWaitMs: 60_000}
const CONVERGENCE_GOAL_S = 60
const CPU_GOAL_PERCENT = 10
/** Dozens of node processes starting at once on two cores: give each time to print its ready line. */
const READY_TIMEOUT_MS = 240_000
/** After the last `polar seed` returned: how long its node may take to list the seed as alive. */
const GRACE_MS = 10_000
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function startMany(scratch, prefix, count, serveArgs, running) {
  return Promise.all(Array.from({length: count}, (_, i) => startNode(join(scratch, `${prefix}${i + 1}`), {serveArgs, readyTimeoutMs: READY_TIMEOUT_MS}).then((n) => (running.push(n), n))))
}

async function stopAll(running) {
  await Promise.allSettled(running.splice(0).map((p) => p.stop()))
}

/** Sum of the CPU seconds the nodes have used so far (a node that is gone counts as null: the figure is then not valid). */
function cpuOf(nodes) {
  let sum = 0
  for (const n of nodes) {
    const s = cpuSecondsOf(n.pid)
    if (s == null) return null
    sum += s
  }
  return sum
}

/** Convergence of `cfg.nodes` seeded from node 0, then their idle CPU. */
export async function measureSeeded(cfg, {log}) {
  const scratch = mkdtempSync(join(tmpdir(), 'polar-bench-network64-'))
  const running = []
  try {
    const first = await startSeedNode(join(scratch, 'n0'), {log, readyTimeoutMs: READY_TIMEOUT_MS})
    running.push(first)
    log(`  starting ${cfg.nodes - 1} more at once, each with --seed ${first.url}`)
    const t0 = performance.now()
    const rest = await startMany(scratch, 'n', cfg.nodes - 1, ['--seed', first.url], running)
    const tReady = performance.now()
    const nodes = [first, ...rest]
    // Polled once a second, not every 100 ms: 64 nodes' peer tables every 100 ms would be load of its own.
    const conv = await pollUntil(nodes, (known) => known.every((k) => k >= cfg.need), {t0, timeoutMs: cfg.timeoutMs, everyMs: 1000})
    const seconds = (conv.at - t0) / 1000
    log(conv.ok
      ? `  every node knows >= ${cfg.need} others after ${seconds.toFixed(1)} s from spawn (${((tReady - t0) / 1000).toFixed(1)} s for all to be ready); known per node ${min(conv.known)}-${max(conv.known)}`
      : `  NOT converged after ${seconds.toFixed(0)} s: known per node ${min(conv.known)}-${max(conv.known)} (need ${cfg.need}); ${conv.known.filter((k) => k >= cfg.need).length} of ${cfg.nodes} nodes there`)
    log(`  settling ${cfg.settleMs / 1000} s, then CPU over ${cfg.cpuWindowMs / 1000} s (no polling meanwhile)`)
    await sleep(cfg.settleMs)
    const c0 = cpuOf(nodes)
    const w0 = performance.now()
    await sleep(cfg.cpuWindowMs)
    const c1 = cpuOf(nodes)
    const wall = (performance.now() - w0) / 1000
    if (c0 == null || c1 == null) throw new Error('a node exited (or /proc/PID/stat is unreadable) while its CPU time was measured')
    const cpuPercent = 100 * (c1 - c0) / wall
    const afterIdle = await knownPerNode(nodes)
    const memory = await memoryReport(nodes)
    log(`  idle: ${cpuPercent.toFixed(1)}% of one core for all ${cfg.nodes} together (${(cpuPercent / cfg.nodes).toFixed(2)}% each); known per node afterwards ${min(afterIdle)}-${max(afterIdle)}; median RSS ${memory.median.rss} MB`)
    return {converged: conv.ok, seconds, startup: (tReady - t0) / 1000, known: conv.known, cpuPercent, cpuWindowS: wall, afterIdle, rss: memory.median.rss, rssMax: max(memory.perNode)}
  } finally {
    await stopAll(running)
    rmSync(scratch, {recursive: true, force: true})
  }
}

/** A fresh node 0 and `cfg.nodes - 1` fresh nodes with no seed; all run `polar seed <node 0>` at once. */
export async function measureCrowd(cfg, {log}) {
  const scratch = mkdtempSync(join(tmpdir(), 'polar-bench-crowd-'))
  const running = []
  try {
    const first = await startSeedNode(join(scratch, 'n0'), {log, readyTimeoutMs: READY_TIMEOUT_MS})
    running.push(first)
    const crowd = await startMany(scratch, 'c', cfg.nodes - 1, [], running)
    log(`  ${crowd.length} nodes up with no seed; all run \`polar seed ${first.url}\` at once`)
    const t0 = performance.now()
    const commands = crowd.map((n) => timeProcess(nodeBin, [polarBin, 'seed', first.url, '--json'], {env: childEnv({POLAR_HOME: n.home})}))
    // Watch while the commands run: a node is in once it lists a live peer.
    const watch = pollUntil(crowd, (known) => known.every((k) => k >= 1), {t0, timeoutMs: cfg.crowdWaitMs, everyMs: 1000})
    const results = await Promise.all(commands)
    const commandsS = (performance.now() - t0) / 1000
    let w = await watch
    // On a busy machine the commands can outlast the wait: a node is then
    // judged after its command has returned, given GRACE_MS for its node to
    // take in the answer (and not before, or a slow command counts as a refusal).
    const graceUntil = t0 + commandsS * 1000 + GRACE_MS
    if (!w.ok && performance.now() < graceUntil) w = await pollUntil(crowd, (known) => known.every((k) => k >= 1), {timeoutMs: graceUntil - performance.now(), everyMs: 1000})
    const failed = results.filter((r) => r.code !== 0)
    const errors = [...new Set(failed.map((r) => {
      try { return JSON.parse(r.stdout).error.code } catch { return (r.stderr.trim().split('\n').pop() ?? '').slice(0, 120) || `exit ${r.signal ?? r.code}` }
    }))]
    const got = w.known.filter((k) => k >= 1).length
    const seconds = (w.at - t0) / 1000
    log(`  ${crowd.length - failed.length} of ${crowd.length} seed commands succeeded (all done after ${commandsS.toFixed(1)} s)${failed.length ? `; failures: ${errors.join('; ')}` : ''}; ` +
      `${got} of ${crowd.length} nodes know a live peer after ${seconds.toFixed(1)} s`)
    return {newcomers: crowd.length, got, seconds, commandsFailed: failed.length, errors, commandsSeconds: commandsS, known: w.known, allIn: w.ok}
  } finally {
    await stopAll(running)
    rmSync(scratch, {recursive: true, force: true})
  }
}

export default {
  name: 'network64',
  rows: ['network convergence (64 nodes, 48 peers each)', 'idle CPU of 64 nodes together', 'crowd at one seed (63 newcomers at once)'],
  describe: `**network64** — 64 polar nodes on this machine, default settings (\`--quick\`: 8 nodes,
each needing 6 peers, shorter waits: the figures are then not comparable with the goals; \`npm run
bench -- network64\` runs this module alone; it takes several minutes). Convergence: node 0 starts
and mints its record; the other 63 start at once, each with only \`serve --seed <node 0>\`; the
time from spawning them until every node lists at least 48 others as alive (polled once a second
through each node's local API: polling 64 tables ten times a second would load the machine by
itself), start-up and record stamps included; goal < 60 s; after 300 s the bench stops waiting and
reports that time, not met. Idle CPU: then, with nothing polling, 30 s to settle and 30 s measured:
user + system CPU time of all 64 node processes (all their threads; /proc/PID/stat) over the wall
time, as a percentage of one core; goal < 10%. Crowd: a fresh node 0 (its record minted), 63 fresh
nodes started with no seed, then 63 \`polar seed <node 0>\` commands started at the same moment,
each through its own node; the nodes are polled once a second until every one lists at least one
live peer, or 120 s after the start (quick: 60 s) or 10 s after the last command returned, whichever is later: value = how many of the 63 got in (list a live peer), goal =
all (ratio = got in / 63). The note gives the commands that failed and why. The "peer" column of
these rows is the goal itself.`,

  async run({quick, log}) {
    const cfg = quick ? QUICK : FULL
    const s = await measureSeeded(cfg, {log})
    const c = await measureCrowd(cfg, {log})
    const q = quick ? `quick mode: ${cfg.nodes} nodes, ${cfg.need} peers each (the goal is for 64 and 48); ` : ''
    return [
      makeRow({
        name: `network convergence (${cfg.nodes} nodes, ${cfg.need} peers each)`, peer: `goal ${CONVERGENCE_GOAL_S} s`, unit: 's', better: 'lower',
        samples: {polar: [s.seconds], peer: [CONVERGENCE_GOAL_S]}, ratioOf: (p, g) => p / g, ratioDefinition: 'polar time / goal time',
        goal: {op: '<=', value: 1.0}, details: {input: {nodes: cfg.nodes, need: cfg.need}, startupSeconds: round(s.startup), knownPerNode: s.known},
        note: `${q}${s.converged ? '' : `did not converge within ${cfg.timeoutMs / 1000} s (the value is that time): `}all ${cfg.nodes - 1} ready ${s.startup.toFixed(1)} s after spawn; peers known per node ${min(s.known)}-${max(s.known)} of ${cfg.nodes - 1}`,
      }),
      makeRow({
        name: `idle CPU of ${cfg.nodes} nodes together`, peer: `goal ${CPU_GOAL_PERCENT}% of one core`, unit: '% of a core', better: 'lower',
        samples: {polar: [s.cpuPercent], peer: [CPU_GOAL_PERCENT]}, ratioOf: (p, g) => p / g, ratioDefinition: 'CPU share / goal share',
        goal: {op: '<=', value: 1.0}, details: {input: {nodes: cfg.nodes}, cpuWindowSeconds: round(s.cpuWindowS), rssMedianMB: s.rss},
        note: `${q}${s.converged ? '' : 'the network had not converged; '}${(s.cpuPercent / cfg.nodes).toFixed(2)}% per node, measured over ${s.cpuWindowS.toFixed(0)} s after ${cfg.settleMs / 1000} s of settling; ` +
          `peers known per node afterwards ${min(s.afterIdle)}-${max(s.afterIdle)}; RSS per node median ${s.rss} MB, max ${s.rssMax} MB`,
      }),
      makeRow({
        name: `crowd at one seed (${cfg.nodes - 1} newcomers at once)`, peer: `all ${cfg.nodes - 1}`, unit: 'nodes', better: 'higher',
        samples: {polar: [c.got], peer: [c.newcomers]}, ratioOf: (p, all) => p / all, ratioDefinition: 'nodes that got in / newcomers',
        goal: {op: '>=', value: 1.0}, details: {input: {nodes: cfg.nodes}, knownPerNode: c.known, commandsFailed: c.commandsFailed},
        note: `${q}${c.commandsFailed} of ${c.newcomers} \`polar seed\` commands failed${c.commandsFailed ? ` (${c.errors.join('; ')})` : ''}, all done ${c.commandsSeconds.toFixed(1)} s after the start; ` +
          `${c.allIn ? `every node listed a live peer ${c.seconds.toFixed(1)} s after the start` : `${c.newcomers - c.got} still alone ${c.seconds.toFixed(0)} s after the start`}; ` +
          `peers known per node then: ${min(c.known)}-${max(c.known)} (median ${median(c.known)})`,
      }),
    ]
  },
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2)
  const i = args.indexOf('--nodes')
  const cfg = {...(args.includes('--quick') ? QUICK : FULL)}
  if (i >= 0) {
    cfg.nodes = Number(args[i + 1])
    cfg.need = Math.ceil((cfg.nodes - 1) * FULL.need / (FULL.nodes - 1))
  }
  if (!Number.isInteger(cfg.nodes) || cfg.nodes < 2) {
    process.stderr.write('usage: node bench/network64.js [--nodes N] [--quick]   (needs a built polar: npm run build)\n')
    process.exit(2)
  }
  const log = (s) => process.stderr.write(s + '\n')
  const s = await measureSeeded(cfg, {log})
  const c = await measureCrowd(cfg, {log})
  process.stdout.write(JSON.stringify({cfg, seeded: s, crowd: c}) + '\n')
}
