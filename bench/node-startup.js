// Rows "scripted pull via local node (11 B)" and "scripted peers --json via
// local node": with a node running on the home, a small polar call goes
// through the node's local API socket; timed as a whole process against
// `node -e 0`, alternating.
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {spawnSync} from 'node:child_process'
import {SERVE_ARGS, joinPeer, startNode} from './lib/polar-node.js'
import {childEnv, mustSucceed, node, polarBin, timeProcess} from './lib/proc.js'
import {alternate} from './lib/stats.js'
import {makeRow} from './lib/row.js'

const PEER = 'node -e 0'
const CONTENT = 'hello world' // 11 bytes
/** Issue 15 point 8: scripted calls at <= 2x `node -e 0`. */
const GOAL = {op: '<=', value: 2.0}

export default {
  name: 'node-startup',
  rows: ['scripted pull via local node (11 B)', 'scripted peers --json via local node'],
  describe: `**scripted calls via a local node** — an 11-byte object is pushed into a fresh
\`POLAR_HOME\` with no node running, then a node is started on that home (\`polar serve --listen
127.0.0.1:0 --replicas 1\`) and joined to a second node, so that it has one peer. With the node
running, polar commands on that home go through its local API socket: \`node bin/run.js pull CID\`
(stdout to /dev/null; its output is checked once beforehand) and \`node bin/run.js peers --json\`
(stdout to /dev/null; checked once to list the peer) are each timed as a whole process against
\`node -e 0\` with the same stdio. Untimed warm-ups, then alternating pairs (order flips every
pair); value: wall time from spawn to exit (ms); ratio = polar time / \`node -e 0\` time per pair,
median over pairs. Since 44fa0b4 the pull takes bin/run.js's fast path, which does not load oclif
(src/lib/cli/fast-pull.ts; earlier figures of this row, ~140 ms, went through oclif); \`peers
--json\` still goes through oclif.`,

  async run({quick, log}) {
    const runs = quick ? 10 : 20
    const warmup = quick ? 1 : 2
    const scratch = mkdtempSync(join(tmpdir(), 'polar-bench-node-startup-'))
    const home = join(scratch, 'home')
    const env = childEnv({POLAR_HOME: home})
    const running = []
    try {
      const pushed = spawnSync(node, [polarBin, 'push', '-', '-q'], {input: CONTENT, env, encoding: 'utf8'})
      if (pushed.status !== 0) throw new Error(`polar push of the 11-byte object failed: ${pushed.stderr}`)
      const cid = pushed.stdout.trim()
      const local = await startNode(home, {serveArgs: SERVE_ARGS})
      running.push(local)
      const other = await startNode(join(scratch, 'peer-home'), {serveArgs: SERVE_ARGS})
      running.push(other)
      await joinPeer(home, other.url)
      log(`  node ${local.url} (socket ${local.socket}) with peer ${other.url}`)

      const back = mustSucceed(await timeProcess(node, [polarBin, 'pull', cid], {env}), 'polar pull')
      if (back.stdout !== CONTENT) throw new Error(`polar pull ${cid} gave ${JSON.stringify(back.stdout)}, expected ${JSON.stringify(CONTENT)}`)
      const peers = mustSucceed(await timeProcess(node, [polarBin, 'peers', '--json'], {env}), 'polar peers --json')
      let list
      try { list = JSON.parse(peers.stdout) } catch { throw new Error(`polar peers --json printed ${JSON.stringify(peers.stdout.slice(0, 300))}, not JSON`) }
      if (!JSON.stringify(list).includes(other.did)) throw new Error(`polar peers --json does not list the peer ${other.did}: ${peers.stdout.slice(0, 500)}`)

      const nodeFloor = async () => mustSucceed(await timeProcess(node, ['-e', '0'], {env, stdout: 'null'}), 'node -e 0').ms
      const timed = (args, what) => async () => mustSucceed(await timeProcess(node, [polarBin, ...args], {env, stdout: 'null'}), what).ms
      const row = (name, samples, details = {}) => makeRow({
        name, peer: PEER, unit: 'ms', samples, better: 'lower', goal: GOAL,
        ratioOf: (p, q) => p / q, ratioDefinition: 'polar time / node -e 0 time', details,
      })
      const rows = []

      log(`  scripted pull via local node (11 B): polar pull ${cid}`)
      rows.push(row('scripted pull via local node (11 B)',
        await alternate({runs, warmup, log, peer: nodeFloor, polar: timed(['pull', cid], 'polar pull')}),
        {input: {bytes: CONTENT.length, cid}}))

      log('  scripted peers --json via local node')
      rows.push(row('scripted peers --json via local node',
        await alternate({runs, warmup, log, peer: nodeFloor, polar: timed(['peers', '--json'], 'polar peers --json')}),
        {input: {peers: list.length}}))

      return rows
    } finally {
      await Promise.allSettled(running.reverse().map((p) => p.stop()))
      rmSync(scratch, {recursive: true, force: true})
    }
  },
}
