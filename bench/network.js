#!/usr/bin/env node
// Rows "network convergence (N nodes)" and "idle memory per node (N nodes)":
// N polar nodes on loopback, node 0 started first, then the others all at
// once, each with only `--seed <node 0>`. Convergence: time until every node
// knows at least 90% of the others (polled through each node's local API).
// Memory: RSS of each node once the network is idle, next to a bare node (no
// peers). Default settings throughout: 19-bit stamps, 1 s gossip rounds.
//
// As a row module of bench/run.js (16 nodes; --quick: 8), or on its own:
//   node bench/network.js [--nodes 50] [--quick]
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {request} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {startNode} from './lib/polar-node.js'
import {median, max, min} from './lib/stats.js'
import {makeRow, round} from './lib/row.js'

const CONVERGENCE_GOAL_S = 20
const MEMORY_GOAL_MB = 80
const KNOWN_FRACTION = 0.9
const TIMEOUT_MS = 180_000
const IDLE_WAIT_MS = 5_000

function peersOf(socket) {
  return new Promise((resolve, reject) => {
    const req = request({socketPath: socket, path: '/api/v1/peers'}, (res) => {
      let body = ''
      res.on('data', (d) => (body += d))
      res.on('end', () => {
        try { resolve(JSON.parse(body).peers) } catch (e) { reject(e) }
      })
    })
    req.on('error', reject)
    req.on('response', (res) => res.on('error', reject))
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')))
    req.end()
  })
}

const alive = (pid) => {
  try {
    process.kill(pid, 0)
    return !/State:\s+Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8'))
  } catch {
    return false
  }
}

const rssMB = (pid) => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) / 1024 : NaN
}

/** Runs one network of `n` nodes; resolves the figures (seconds, MB). */
export async function measureNetwork(n, {log = (s) => process.stderr.write(s + '\n')} = {}) {
  const scratch = mkdtempSync(join(tmpdir(), 'polar-bench-network-'))
  const running = []
  try {
    const bare = await startNode(join(scratch, 'bare'))
    running.push(bare)
    const first = await startNode(join(scratch, 'n0'))
    running.push(first)
    // Node 0 plays an established seed: its own record is minted before the clock starts.
    const tSeed = performance.now()
    for (;;) {
      const r = await fetch(`${first.url}/v1/seed`, {signal: AbortSignal.timeout(30_000)}).catch(() => null)
      if (r?.status === 200) break
      if (performance.now() - tSeed > TIMEOUT_MS) throw new Error('node 0 never answered a seed request')
      await new Promise((res) => setTimeout(res, 500))
    }
    log(`  node 0 at ${first.url} (record minted in ${((performance.now() - tSeed) / 1000).toFixed(1)} s); starting ${n - 1} more, each with --seed ${first.url}`)
    const t0 = performance.now()
    const rest = await Promise.all(Array.from({length: n - 1}, (_, i) => startNode(join(scratch, `n${i + 1}`), {serveArgs: ['--seed', first.url]}).then((node) => (running.push(node), node))))
    const tReady = performance.now()
    const nodes = [first, ...rest]
    const need = Math.ceil(KNOWN_FRACTION * (n - 1))
    let last = []
    for (;;) {
      last = await Promise.all(nodes.map(async (node) => {
        try {
          return (await peersOf(node.socket)).filter((p) => p.state === 'alive' && p.did !== node.did).length
        } catch (err) {
          if (!alive(node.pid)) throw new Error(`node ${node.url} exited: ${node.stderr().slice(-3000)}`)
          return 0 // a busy node: ask again next round
        }
      }))
      if (last.every((k) => k >= need)) break
      if (performance.now() - t0 > TIMEOUT_MS) throw new Error(`no convergence within ${TIMEOUT_MS / 1000} s: peers known per node ${last.join(' ')}`)
      await new Promise((r) => setTimeout(r, 100))
    }
    const tDone = performance.now()
    if (process.env.POLAR_BENCH_LOGS) {
      const {writeFileSync} = await import('node:fs')
      writeFileSync(process.env.POLAR_BENCH_LOGS, nodes.map((node, i) => `--- node ${i} ${node.did} ${node.url}\n${node.stderr()}`).join('\n'))
    }
    const fromSpawn = (tDone - t0) / 1000
    const fromReady = (tDone - tReady) / 1000
    log(`  converged: ${fromSpawn.toFixed(1)} s from spawn (${((tReady - t0) / 1000).toFixed(1)} s for all ${n - 1} to be ready, then ${fromReady.toFixed(1)} s); known per node ${min(last)}-${max(last)} of ${n - 1}`)
    await new Promise((r) => setTimeout(r, IDLE_WAIT_MS))
    const rss = nodes.map((node) => rssMB(node.pid))
    const bareRss = rssMB(bare.pid)
    log(`  idle RSS per node: median ${median(rss).toFixed(1)} MB (${min(rss).toFixed(1)}-${max(rss).toFixed(1)}); bare node ${bareRss.toFixed(1)} MB`)
    return {nodes: n, fromSpawn, fromReady, startup: (tReady - t0) / 1000, known: last, rss, bareRss}
  } finally {
    await Promise.allSettled(running.map((p) => p.stop()))
    rmSync(scratch, {recursive: true, force: true})
  }
}

export default {
  name: 'network',
  rows: ['network convergence', 'idle memory per node'],
  describe: `**network** — N polar nodes on loopback (16; \`--quick\`: 8; \`node bench/network.js --nodes 50\`
by hand) with default settings (19-bit record stamps, 1 s gossip rounds). Node 0 starts first; the
other N-1 start at once, each with only \`--seed <node 0>\` (node 0 plays an established seed: it has minted its own record before the
clock starts). Convergence: wall time from spawning
those N-1 until every node lists at least 90% of the others as alive (polled every 100 ms through
each node's local API); it includes their start-up and minting their record stamps. Memory: RSS of
each node 5 s after convergence (median over nodes), next to a bare node with no peers. The "peer"
column is the goal itself (ratio = value / goal).`,

  async run({quick, log}) {
    const n = quick ? 8 : 16
    const m = await measureNetwork(n, {log})
    const details = {input: {nodes: n}, fromReadySeconds: round(m.fromReady), startupSeconds: round(m.startup), knownPerNode: m.known, rssMB: m.rss.map((x) => round(x, 1)), bareNodeRssMB: round(m.bareRss, 1)}
    return [
      makeRow({
        name: `network convergence (${n} nodes)`, peer: `goal ${CONVERGENCE_GOAL_S} s`, unit: 's', better: 'lower',
        samples: {polar: [m.fromSpawn], peer: [CONVERGENCE_GOAL_S]}, ratioOf: (p, q) => p / q, ratioDefinition: 'polar time / goal time',
        goal: {op: '<=', value: 1.0}, details,
      }),
      makeRow({
        name: `idle memory per node (${n} nodes)`, peer: `goal ${MEMORY_GOAL_MB} MB`, unit: 'MB', better: 'lower',
        samples: {polar: [median(m.rss)], peer: [MEMORY_GOAL_MB]}, ratioOf: (p, q) => p / q, ratioDefinition: 'polar RSS / goal RSS',
        goal: {op: '<=', value: 1.0}, details,
      }),
    ]
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
  const m = await measureNetwork(n)
  process.stdout.write(JSON.stringify({...m, rss: undefined, rssMedianMB: round(median(m.rss), 1), rssMaxMB: round(max(m.rss), 1)}) + '\n')
}
