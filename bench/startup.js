// Rows "scripted pull (11 B)" and "polar --version": a small polar call as a
// whole process against `node -e 0` (the floor for any Node CLI), alternating.
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {spawnSync} from 'node:child_process'
import {childEnv, mustSucceed, node, polarBin, timeProcess} from './lib/proc.js'
import {alternate} from './lib/stats.js'
import {makeRow} from './lib/row.js'

const PEER = 'node -e 0'
const CONTENT = 'hello world' // 11 bytes

export default {
  name: 'startup',
  rows: ['scripted pull (11 B)', 'polar --version'],
  describe: `**start-up** — scripts call polar thousands of times. \`scripted pull (11 B)\`: an 11-byte
object is pushed once into a fresh \`POLAR_HOME\`, then \`node bin/run.js pull CID\` (stdout to
/dev/null) is timed as a whole process against \`node -e 0\` with the same stdio. \`polar --version\`:
\`node bin/run.js --version\` against \`node -e 0\` (informational: the ordinary command path
above is what must be fast). Untimed warm-ups, then alternating pairs (order flips every pair);
value: wall time from spawn to exit (ms); ratio = polar time / \`node -e 0\` time per pair, median
over pairs.`,

  async run({quick, log}) {
    const runs = quick ? 10 : 20
    const warmup = quick ? 1 : 2
    const home = mkdtempSync(join(tmpdir(), 'polar-bench-startup-'))
    const env = childEnv({POLAR_HOME: home})
    try {
      const pushed = spawnSync(node, [polarBin, 'push', '-', '-q'], {input: CONTENT, env, encoding: 'utf8'})
      if (pushed.status !== 0) throw new Error(`polar push of the 11-byte object failed: ${pushed.stderr}`)
      const cid = pushed.stdout.trim()
      const back = mustSucceed(await timeProcess(node, [polarBin, 'pull', cid], {env}), 'polar pull')
      if (back.stdout !== CONTENT) throw new Error(`polar pull ${cid} gave ${JSON.stringify(back.stdout)}, expected ${JSON.stringify(CONTENT)}`)

      const nodeFloor = async () => mustSucceed(await timeProcess(node, ['-e', '0'], {env, stdout: 'null'}), 'node -e 0').ms
      const rows = []

      log(`  scripted pull (11 B): polar pull ${cid}`)
      const pull = await alternate({
        runs, warmup, log, peer: nodeFloor,
        polar: async () => mustSucceed(await timeProcess(node, [polarBin, 'pull', cid], {env, stdout: 'null'}), 'polar pull').ms,
      })
      rows.push(makeRow({
        name: 'scripted pull (11 B)', peer: PEER, unit: 'ms', samples: pull, better: 'lower',
        goal: {op: '<=', value: 2.0}, ratioOf: (p, q) => p / q, ratioDefinition: 'polar time / node -e 0 time', // issue 15 point 8
        details: {input: {bytes: CONTENT.length, cid}},
      }))

      log('  polar --version')
      const version = await alternate({
        runs, warmup, log, peer: nodeFloor,
        polar: async () => mustSucceed(await timeProcess(node, [polarBin, '--version'], {env, stdout: 'null'}), 'polar --version').ms,
      })
      rows.push(makeRow({
        name: 'polar --version', peer: PEER, unit: 'ms', samples: version, better: 'lower', informational: true,
        goal: {op: '<=', value: 3.0}, ratioOf: (p, q) => p / q, ratioDefinition: 'polar time / node -e 0 time',
      }))
      return rows
    } finally {
      rmSync(home, {recursive: true, force: true})
    }
  },
}
