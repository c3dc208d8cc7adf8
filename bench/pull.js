// Row "pull N MiB over loopback": node B pulls an object that only node A holds
// (`polar pull CID -o OUT` on B's home, as a whole process, through B's node),
// against `curl -o OUT` of the same file from nginx on a loopback port, as a
// whole process. Same file for both, alternating; every output is hashed and
// compared with the input (untimed).
import {chmodSync, linkSync, mkdirSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {hashFile, writeRandomFile} from './lib/files.js'
import {findNginx, startNginx, which} from './lib/nginx.js'
import {SERVE_ARGS, joinPeer, startNode} from './lib/polar-node.js'
import {childEnv, mustSucceed, node, polarBin, syncDisks, timeProcess} from './lib/proc.js'
import {alternate} from './lib/stats.js'
import {failedRow, makeRow} from './lib/row.js'

const MiB = 1024 * 1024
const PEER = 'curl from nginx (sendfile, loopback)'
const GOAL = {op: '>=', value: 0.4}

export default {
  name: 'pull',
  rows: ['pull 256 MiB over loopback (quick: 64 MiB)'],
  describe: `**pull** — a random file is pushed once into home A with no node running (the embedded
store), then node A is started on it (\`polar serve --listen 127.0.0.1:0 --replicas 1\`; one
replica and no repair pass during the bench, so A never places the object on B by itself). Each
polar run starts a fresh node B on a fresh, empty home and joins it to A (\`polar peers add URL_A\`),
untimed; then \`polar pull CID -o OUT\` on B's home is timed as a whole process: it goes through
node B, which finds A holds the root, fetches every block from A over HTTP on loopback, verifies
it, keeps it in its store (fsynced) and writes OUT. Node B is stopped and its home deleted after
the run. The peer: nginx from Debian's packages (\`apt-get install nginx-light\`; the runner
installs nothing and skips the row when nginx is not found) started by the benchmark with a
generated config (daemon off, logs and pid in a temp dir, \`sendfile on\`, 127.0.0.1 and a free
port, root = a directory holding the same file), and \`curl -sSf -o OUT http://127.0.0.1:PORT/file\`
timed as a whole process. One untimed warm-up each, then alternating pairs (the order flips every
pair); every OUT is hashed and compared with the input, and OUT is deleted and \`sync\` run after
every run, untimed. Value: file size / wall time (MiB/s); ratio = polar / curl throughput per pair,
median over pairs. Note that polar verifies every block (A hashes it right after reading it, B as it
arrives: 512 MiB of sha-256 per run, split over the two cores) and writes it twice, durably: into
B's store (O_DIRECT, fdatasync before it is indexed) and into OUT (O_DIRECT, fsync before the
rename) — 512 MiB to the disk per run, which on this machine's disk takes about 0.35 s by itself
(two O_DIRECT streams of 1 MiB writes from 64 MiB of memory: about 1.45 GB/s; 2 GB/s when every
write comes from the same buffer); curl writes OUT once, into the page cache, with no sync.`,

  check() {
    if (!findNginx()) return 'peer tool missing: nginx is not on PATH (nor in /usr/sbin) — install Debian\'s package: apt-get install nginx-light (or nginx)'
    if (!which('curl')) return 'peer tool missing: curl is not on PATH — install Debian\'s package: apt-get install curl'
    return null
  },

  async run({quick, log}) {
    const mib = quick ? 64 : 256
    const runs = quick ? 3 : 5
    const name = `pull ${mib} MiB over loopback`
    const bytes = mib * MiB
    const scratch = mkdtempSync(join(tmpdir(), 'polar-bench-pull-'))
    const running = []
    try {
      // nginx's workers run as nobody when the bench runs as root: they must reach the file.
      chmodSync(scratch, 0o755)
      const www = join(scratch, 'www')
      mkdirSync(www, {mode: 0o755})
      const file = join(www, 'file')
      log(`  generating ${mib} MiB of random data`)
      writeRandomFile(file, bytes)
      chmodSync(file, 0o644)
      const input = await hashFile(file)

      const homeA = join(scratch, 'home-a')
      const pushed = mustSucceed(await timeProcess(node, [polarBin, 'push', file, '-q'], {env: childEnv({POLAR_HOME: homeA})}), 'polar push (into home A, no node)')
      const cid = pushed.stdout.trim()
      if (!/^baf[a-z2-7]+$/.test(cid)) throw new Error(`polar push printed ${JSON.stringify(pushed.stdout.slice(0, 200))}, not a CID`)
      const nodeA = await startNode(homeA, {serveArgs: SERVE_ARGS})
      running.push(nodeA)
      log(`  node A ${nodeA.url} holds ${cid}`)

      const nginx = await startNginx({bin: findNginx(), dir: join(scratch, 'nginx'), root: www, probe: 'file', probeBytes: bytes})
      running.push(nginx)
      log(`  nginx on ${nginx.url}`)

      const out = join(scratch, 'out.bin')
      let nodeB = null
      let warned = false
      const verify = async (who) => {
        const got = await hashFile(out)
        if (got.bytes !== input.bytes || got.sha256 !== input.sha256) {
          throw new OutputError(`${who} wrote ${got.bytes} bytes (sha256 ${got.sha256}), expected ${input.bytes} (sha256 ${input.sha256})`)
        }
      }

      const polar = async () => {
        const homeB = mkdtempSync(join(scratch, 'home-b-'))
        nodeB = await startNode(homeB, {serveArgs: SERVE_ARGS})
        running.push(nodeB)
        await joinPeer(homeB, nodeA.url)
        const r = await timeProcess(node, [polarBin, 'pull', cid, '-o', out], {env: childEnv({POLAR_HOME: homeB})})
        if (r.code !== 0) {
          throw new Error(`polar pull exited with ${r.signal ?? r.code}: ${r.stderr.trim().slice(-1000)}\nnode B's log: ${nodeB.stderr().trim().slice(-2000)}\nnode A's log: ${nodeA.stderr().trim().slice(-1000)}`)
        }
        await verify('polar pull')
        return bytes / MiB / (r.ms / 1000)
      }
      const peer = async () => {
        const r = mustSucceed(await timeProcess('curl', ['-sSf', '--noproxy', '*', '-o', out, `${nginx.url}/file`]), 'curl')
        await verify('curl')
        return bytes / MiB / (r.ms / 1000)
      }
      const between = async () => {
        if (nodeB) {
          const b = nodeB
          nodeB = null
          const st = await b.stop()
          running.splice(running.indexOf(b), 1)
          if (st.code !== 0 && !warned) {
            warned = true
            log(`  note: node B exited with ${st.signal ?? st.code} on SIGTERM, not 0 (untimed; shown once)`)
          }
          rmSync(b.home, {recursive: true, force: true})
        }
        rmSync(out, {force: true})
        syncDisks()
      }

      let samples
      try {
        samples = await alternate({runs, warmup: 1, polar, peer, between, log})
      } catch (e) {
        if (!(e instanceof OutputError)) throw e
        log(`  FAILED: ${e.message}`)
        return [failedRow({name, peer: PEER, unit: 'MiB/s', goal: GOAL, better: 'higher', status: 'output-mismatch', error: e.message})]
      }
      return [makeRow({
        name, peer: PEER, unit: 'MiB/s', samples, goal: GOAL, better: 'higher',
        ratioOf: (p, q) => p / q,
        ratioDefinition: 'polar throughput / peer throughput',
        details: {input: {bytes, cid, sha256: input.sha256}},
      })]
    } finally {
      await Promise.allSettled(running.reverse().map((p) => p.stop()))
      rmSync(scratch, {recursive: true, force: true})
    }
  },
}

class OutputError extends Error {}
