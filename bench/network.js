#!/usr/bin/env node
// Rows of a small network on loopback (default settings: 19-bit record
// stamps, 1 s gossip rounds):
// - "network convergence (N nodes)": node 0 started first, then the others all
//   at once, each with only `--seed <node 0>`; time until every node knows at
//   least 90% of the others (polled through each node's local API);
// - "idle memory per node (N nodes)": RSS of each node 30 s after that, with
//   what the bench can see of where it goes (/proc and the node's
//   /api/v1/status `memory`), next to a bare node (no peers);
// - "membership through peers add (5 nodes)": five nodes, each joined with
//   `polar peers add` to node 1 only; time until node 5 knows the other four
//   (issue 15 point 5).
// bench/network64.js uses the helpers here for the 64-node rows.
//
// As a row module of bench/run.js (16 nodes; --quick: 8), or on its own:
//   node bench/network.js [--nodes 50] [--quick]
import {spawn} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {performance} from 'node:perf_hooks'
import {fileURLToPath} from 'node:url'
import {alivePeers, joinPeer, localGet, startNode} from './lib/polar-node.js'
import {memoryOf} from './lib/procfs.js'
import {median, max, min} from './lib/stats.js'
import {makeRow, round} from './lib/row.js'

const CONVERGENCE_GOAL_S = 20
/** Issue 15 point 4: an idle node with 15 peers, 30 s after convergence. */
const MEMORY_GOAL_MB = 64
const KNOWN_FRACTION = 0.9
const TIMEOUT_MS = 180_000
const IDLE_WAIT_MS = 30_000
const IDLE_WAIT_QUICK_MS = 10_000
/** Issue 15 point 5: node 5 of five joined by `peers add` to node 1 learns the rest within 30 s. */
const MEMBERSHIP_GOAL_S = 30
const MEMBERSHIP_TIMEOUT_MS = 90_000
const MEMBERSHIP_TIMEOUT_QUICK_MS = 45_000

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** Whether a process is still running (not gone, not a zombie). */
export function alive(pid) {
  try { process.kill(pid, 0) } catch { return false }
  let status = ''
  try { status = readFileSync(`/proc/${pid}/status`, 'utf8') } catch { /* not Linux: kill(0) is all we know */ }
  return !/^State:\s+Z/m.test(status)
}

/** How many live peers each node lists (0 for a node too busy to answer this round; throws when one has exited). */
export async function knownPerNode(nodes) {
  return Promise.all(nodes.map(async (node) => {
    try {
      return (await alivePeers(node)).length
    } catch {
      if (!alive(node.pid)) throw new Error(`node ${node.url} exited: ${node.stderr().slice(-3000)}`)
      return 0 // a busy node: ask again next round
    }
  }))
}

/**
 * Poll `nodes` every `everyMs` until `done(known)` (known: peers per node) or
 * `timeoutMs` after `t0`. Resolves {ok, at (performance.now()), known}.
 */
export async function pollUntil(nodes, done, {t0 = performance.now(), timeoutMs, everyMs = 100}) {
  for (;;) {
    const known = await knownPerNode(nodes)
    const at = performance.now()
    if (done(known)) return {ok: true, at, known}
    if (at - t0 > timeoutMs) return {ok: false, at, known}
    await sleep(everyMs)
  }
}

/** Start node 0 and wait until it can answer a seed request with its own record (minted before any clock starts). */
export async function startSeedNode(home, {log, readyTimeoutMs} = {}) {
  const first = await startNode(home, {readyTimeoutMs})
  const t = performance.now()
  for (;;) {
    const r = await fetch(`${first.url}/v1/seed`, {signal: AbortSignal.timeout(30_000)}).catch(() => null)
    if (r?.status === 200) {
      const body = await r.json().catch(() => ({}))
      if (!body.minting) break
    }
    if (performance.now() - t > TIMEOUT_MS) throw new Error('node 0 never answered a seed request with its record')
    await sleep(500)
  }
  log?.(`  node 0 at ${first.url} (record minted in ${((performance.now() - t) / 1000).toFixed(1)} s)`)
  return first
}

/** Median, over nodes, of what the bench can see of their memory: /proc (RSS and its parts, PSS, threads) and /api/v1/status `memory` (V8). */
export async function memoryReport(nodes) {
  const rows = await Promise.all(nodes.map(async (node) => {
    const proc = memoryOf(node.pid) ?? {}
    let v8 = {}
    try { v8 = (await localGet(node.socket, '/api/v1/status')).memory ?? {} } catch { /* a busy node: /proc only */ }
    const mb = (x) => (typeof x === 'number' ? x / 1e6 : null)
    return {...proc, heapUsed: mb(v8.heapUsed), heapTotal: mb(v8.heapTotal), external: mb(v8.external), arrayBuffers: mb(v8.arrayBuffers), v8Rss: mb(v8.rss)}
  }))
  const med = (k) => {
    const xs = rows.map((r) => r[k]).filter((x) => typeof x === 'number' && Number.isFinite(x))
    return xs.length ? round(median(xs), 1) : null
  }
  const keys = ['rss', 'rssAnon', 'rssFile', 'rssShmem', 'pss', 'pssAnon', 'pssFile', 'threads', 'heapUsed', 'heapTotal', 'external', 'arrayBuffers']
  return {median: Object.fromEntries(keys.map((k) => [k, med(k)])), perNode: rows.map((r) => round(r.rss ?? NaN, 1))}
}

/** One line for a row's note: the medians of memoryReport. */
export function memoryNote(m) {
  const f = (x) => (x == null ? '?' : x.toFixed(1))
  return `median per node: RSS ${f(m.rss)} MB = anonymous ${f(m.rssAnon)} + file-backed ${f(m.rssFile)} (code and mapped files) + shared ${f(m.rssShmem)}; ` +
    `PSS ${f(m.pss)} MB (anonymous ${f(m.pssAnon)}, file ${f(m.pssFile)}: shared pages split between the nodes); ${m.threads ?? '?'} threads; ` +
    `V8 heap ${f(m.heapUsed)} MB used of ${f(m.heapTotal)} MB, external ${f(m.external)} MB (of which array buffers ${f(m.arrayBuffers)} MB) (process.memoryUsage() via /api/v1/status)`
}

/** The floor under any node: RSS of an idle `node` process that only keeps a timer, 2 s after it starts. */
export async function nodeFloorMemory() {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {stdio: 'ignore'})
  await sleep(2000)
  const m = memoryOf(child.pid)
  child.kill()
  return m
}

/** Runs one network of `n` nodes; resolves the figures (seconds, MB). */
export async function measureNetwork(n, {log = (s) => process.stderr.write(s + '\n'), idleWaitMs = IDLE_WAIT_MS} = {}) {
  const scratch = mkdtempSync(join(tmpdir(), 'polar-bench-network-'))
  const running = []
  try {
    const bare = await startNode(join(scratch, 'bare'))
    running.push(bare)
    const first = await startSeedNode(join(scratch, 'n0'), {log})
    running.push(first)
    log(`  starting ${n - 1} more, each with --seed ${first.url}`)
    const t0 = performance.now()
    const rest = await Promise.all(Array.from({length: n - 1}, (_, i) => startNode(join(scratch, `n${i + 1}`), {serveArgs: ['--seed', first.url], readyTimeoutMs: 120_000}).then((node) => (running.push(node), node))))
    const tReady = performance.now()
    const nodes = [first, ...rest]
    const need = Math.ceil(KNOWN_FRACTION * (n - 1))
    const conv = await pollUntil(nodes, (known) => known.every((k) => k >= need), {t0, timeoutMs: TIMEOUT_MS})
    if (process.env.POLAR_BENCH_LOGS) {
      const {writeFileSync} = await import('node:fs')
      writeFileSync(process.env.POLAR_BENCH_LOGS, nodes.map((node, i) => `--- node ${i} ${node.did} ${node.url}\n${node.stderr()}`).join('\n'))
    }
    const fromSpawn = (conv.at - t0) / 1000
    const fromReady = (conv.at - tReady) / 1000
    log(conv.ok
      ? `  converged: ${fromSpawn.toFixed(1)} s from spawn (${((tReady - t0) / 1000).toFixed(1)} s for all ${n - 1} to be ready, then ${fromReady.toFixed(1)} s); known per node ${min(conv.known)}-${max(conv.known)} of ${n - 1}`
      : `  NOT converged within ${TIMEOUT_MS / 1000} s: known per node ${min(conv.known)}-${max(conv.known)} of ${n - 1} (need ${need})`)
    log(`  waiting ${idleWaitMs / 1000} s idle`)
    await sleep(idleWaitMs)
    const memory = await memoryReport(nodes)
    const bareMemory = await memoryReport([bare])
    const floor = await nodeFloorMemory()
    const rss = memory.perNode
    log(`  idle RSS per node: median ${median(rss).toFixed(1)} MB (${min(rss).toFixed(1)}-${max(rss).toFixed(1)}); bare node ${bareMemory.median.rss} MB`)
    log(`  ${memoryNote(memory.median)}`)
    return {nodes: n, converged: conv.ok, need, fromSpawn, fromReady, startup: (tReady - t0) / 1000, known: conv.known, rss, memory: memory.median, bareRss: bareMemory.median.rss, bareMemory: bareMemory.median, floor}
  } finally {
    await Promise.allSettled(running.map((p) => p.stop()))
    rmSync(scratch, {recursive: true, force: true})
  }
}

/**
 * Five nodes, no seeds; nodes 2-5 each run `polar peers add URL_1`, one after
 * another. From the moment node 5's `peers add` returns: time until node 5
 * lists all four others as alive, and until every node does.
 */
export async function measureMembership({log, timeoutMs}) {
  const scratch = mkdtempSync(join(tmpdir(), 'polar-bench-membership-'))
  const running = []
  try {
    const nodes = await Promise.all(Array.from({length: 5}, (_, i) => startNode(join(scratch, `n${i + 1}`)).then((node) => (running.push(node), node))))
    for (const node of nodes.slice(1)) await joinPeer(node.home, nodes[0].url)
    const t0 = performance.now()
    log(`  5 nodes; nodes 2-5 joined with \`polar peers add ${nodes[0].url}\`; waiting until node 5 knows all four others`)
    const fifth = await pollUntil([nodes[4]], ([k]) => k >= 4, {t0, timeoutMs})
    const all = fifth.ok ? await pollUntil(nodes, (known) => known.every((k) => k >= 4), {t0, timeoutMs}) : {ok: false, at: fifth.at, known: await knownPerNode(nodes)}
    const s = (r) => (r.at - t0) / 1000
    log(fifth.ok ? `  node 5 knows all four in ${s(fifth).toFixed(1)} s; ${all.ok ? `every node knows every other in ${s(all).toFixed(1)} s` : `not every node within ${timeoutMs / 1000} s (${all.known.join(' ')})`}`
      : `  after ${s(fifth).toFixed(0)} s node 5 knows only ${fifth.known[0]} of 4; peers known per node: ${all.known.join(' ')}`)
    return {ok: fifth.ok, seconds: s(fifth), allOk: all.ok, allSeconds: s(all), known: all.known, node5Known: fifth.known[0]}
  } finally {
    await Promise.allSettled(running.map((p) => p.stop()))
    rmSync(scratch, {recursive: true, force: true})
  }
}

export default {
  name: 'network',
  rows: ['network convergence', 'idle memory per node', 'membership through peers add (5 nodes)'],
  describe: `**network** — N polar nodes on loopback (16, so each has 15 peers; \`--quick\`: 8; \`node
bench/network.js --nodes 50\` by hand) with default settings (19-bit record stamps, 1 s gossip
rounds). Node 0 starts first; the other N-1 start at once, each with only \`--seed <node 0>\` (node
0 plays an established seed: it has minted its own record before the clock starts). Convergence:
wall time from spawning those N-1 until every node lists at least 90% of the others as alive
(polled every 100 ms through each node's local API); it includes their start-up and minting their
record stamps; goal 20 s. Memory: RSS of each node 30 s after convergence (quick: 10 s), median over
nodes; goal ≤ 64 MB. Its note gives what the bench can see of where that memory is, median per
node: from /proc/PID/status and smaps_rollup, RSS split into anonymous, file-backed (the node
binary's code and mapped files) and shared pages, PSS and the thread count; from the node's own
\`GET /api/v1/status\` (its \`memory\` is \`process.memoryUsage()\`), V8's heap used and total,
\`external\` and \`arrayBuffers\`; the same for a bare node with no peers; and, as the floor, the
RSS of an idle \`node\` process that only keeps a timer. Membership: five nodes
with no seeds; nodes 2, 3, 4 and 5 each run \`polar peers add URL_1\` (node 1 only), one after the
other; from the moment node 5's \`peers add\` returns, the time until node 5 lists the four others as
alive (polled every 100 ms; the note also gives when every node knows every other); goal 30 s;
after 90 s (quick: 45 s) it stops waiting and reports that time, not met. The "peer" column of
these rows is the goal itself (ratio = value / goal).`,

  async run({quick, log}) {
    const n = quick ? 8 : 16
    const m = await measureNetwork(n, {log, idleWaitMs: quick ? IDLE_WAIT_QUICK_MS : IDLE_WAIT_MS})
    const details = {input: {nodes: n}, converged: m.converged, floorMemoryMB: m.floor, fromReadySeconds: round(m.fromReady), startupSeconds: round(m.startup), knownPerNode: m.known, rssMB: m.rss, memoryMedianMB: m.memory, bareNodeMemoryMB: m.bareMemory}
    const rows = [
      makeRow({
        name: `network convergence (${n} nodes)`, peer: `goal ${CONVERGENCE_GOAL_S} s`, unit: 's', better: 'lower',
        samples: {polar: [m.fromSpawn], peer: [CONVERGENCE_GOAL_S]}, ratioOf: (p, q) => p / q, ratioDefinition: 'polar time / goal time',
        goal: {op: '<=', value: 1.0}, details,
        note: m.converged ? undefined : `did not converge within ${TIMEOUT_MS / 1000} s (the value is that time): peers known per node ${min(m.known)}-${max(m.known)} of ${n - 1}, ${m.need} needed`,
      }),
      makeRow({
        name: `idle memory per node (${n} nodes)`, peer: `goal ${MEMORY_GOAL_MB} MB`, unit: 'MB', better: 'lower',
        samples: {polar: [median(m.rss)], peer: [MEMORY_GOAL_MB]}, ratioOf: (p, q) => p / q, ratioDefinition: 'polar RSS / goal RSS',
        goal: {op: '<=', value: 1.0}, details,
        note: `${quick ? `quick mode: ${n - 1} peers, ${IDLE_WAIT_QUICK_MS / 1000} s after convergence (the goal is for 15 peers, 30 s after); ` : ''}${m.converged ? '' : 'measured without convergence; '}` +
          `${memoryNote(m.memory)}; max RSS ${max(m.rss).toFixed(1)} MB; a bare node (no peers): RSS ${m.bareMemory.rss} MB, heap used ${m.bareMemory.heapUsed} MB` +
          `${m.floor ? `; floor: an idle \`node -e 'setInterval(…)'\` has RSS ${m.floor.rss?.toFixed(1)} MB (anonymous ${m.floor.rssAnon?.toFixed(1)}, file-backed ${m.floor.rssFile?.toFixed(1)})` : ''}`,
      }),
    ]
    const timeoutMs = quick ? MEMBERSHIP_TIMEOUT_QUICK_MS : MEMBERSHIP_TIMEOUT_MS
    const p = await measureMembership({log, timeoutMs})
    rows.push(makeRow({
      name: 'membership through peers add (5 nodes)', peer: `goal ${MEMBERSHIP_GOAL_S} s`, unit: 's', better: 'lower',
      samples: {polar: [p.seconds], peer: [MEMBERSHIP_GOAL_S]}, ratioOf: (a, b) => a / b, ratioDefinition: 'time for node 5 to know all / goal time',
      goal: {op: '<=', value: 1.0}, details: {knownPerNode: p.known},
      note: p.ok
        ? (p.allOk ? `every node knew every other after ${p.allSeconds.toFixed(1)} s` : `but not every node knew every other after ${timeoutMs / 1000} s: peers known per node ${p.known.join(' ')}`)
        : `after ${p.seconds.toFixed(0)} s (when the bench stopped waiting; the value is that time) node 5 knew ${p.node5Known} of the 4 others; peers known per node ${p.known.join(' ')}`,
    }))
    return rows
  },
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2)
  const i = args.indexOf('--nodes')
  const n = i >= 0 ? Number(args[i + 1]) : args.includes('--quick') ? 8 : 16
  if (!Number.isInteger(n) || n < 2) {
    process.stderr.write('usage: node bench/network.js [--nodes N] [--quick]   (needs a built polar: npm run build)\n')
    process.exit(2)
  }
  const m = await measureNetwork(n, {idleWaitMs: args.includes('--quick') ? IDLE_WAIT_QUICK_MS : IDLE_WAIT_MS})
  process.stdout.write(JSON.stringify({...m, rss: undefined, rssMedianMB: round(median(m.rss), 1), rssMaxMB: round(max(m.rss), 1)}) + '\n')
}
