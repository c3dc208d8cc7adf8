// Rows of a network pull (issue 15 points 1 and 2), all from a cold page cache:
// - "pull N MiB over loopback, cold": node B pulls an object that only node A
//   holds (`polar pull CID -o OUT` on B's home, as a whole process, through
//   B's node), against `curl -o OUT` of the same file from nginx;
// - "pull from three holders": the same pull by a node B joined to three
//   nodes that each hold the object, against the one-holder pull above
//   (measured in the same rounds: three arms, rotating);
// - "serving never blocks": p99 latency of another client's small requests
//   to node A while A serves such a pull.
// Every output is hashed and compared with the input (untimed).
import {chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {dropCaches} from './lib/cache.js'
import {hashFile, writeRandomFile} from './lib/files.js'
import {findNginx, startNginx, which} from './lib/nginx.js'
import {SERVE_ARGS, joinPeer, startNode} from './lib/polar-node.js'
import {probeOnce, quantile, startProber} from './lib/probe.js'
import {childrenOf, ioOf, watchWrites} from './lib/procfs.js'
import {childEnv, mustSucceed, node, polarBin, syncDisks, timeProcess} from './lib/proc.js'
import {median, rotate} from './lib/stats.js'
import {failedRow, makeRow, round} from './lib/row.js'

const MiB = 1024 * 1024
const CURL = 'curl from nginx (sendfile, loopback)'
const ONE = 'pull from one holder (same rounds)'
const PULL_GOAL = {op: '>=', value: 0.5}
/** Three holders must beat one: ratio of throughputs above 1. */
const THREE_GOAL = {op: '>=', value: 1.0}
const P99_GOAL_MS = 50
const SERVE_GOAL = {op: '<=', value: 1.0}
/** The probes of the serving row: the gateway's own probe block (the empty identity CID) and the peer protocol's hello. */
const PROBES = ['/ipfs/bafkqaaa?format=raw', '/v1/hello']

export default {
  name: 'pull',
  peer: CURL,
  rows: ['pull 256 MiB over loopback, cold (quick: 64 MiB)', 'pull 256 MiB from three holders at once', 'serving never blocks: p99 of small requests during a 256 MiB pull'],
  describe: `**pull** — a random file (256 MiB; quick: 64 MiB) is pushed with no node running (the
embedded store) into four homes: A, and H1, H2, H3, each with its own identity (so each holds every
block of the same root CID; pushing into each home directly rather than pushing once with
\`--replicas 3\` keeps the row independent of placement). A node is started on each (\`polar serve
--listen 127.0.0.1:0 --replicas 1 --repair-interval 3600\`: no node places the object anywhere by
itself). The holders are not joined to each other. Three arms are measured in the same rounds, in
an order that rotates every round (one untimed warm-up round; none in quick mode): *one holder* — a fresh node B on a
fresh, empty home is joined to A (\`polar peers add URL_A\`), untimed; *three holders* — the same
with B joined to H1, H2 and H3; *curl* — \`curl -sSf -o OUT http://127.0.0.1:PORT/file\` from nginx
(Debian's package, \`apt-get install nginx-light\`; the bench starts it with a generated config:
daemon off, \`sendfile on\`, 127.0.0.1 and a free port, root = a directory holding the same file).
Right before each timed command, untimed: \`sync\` and \`echo 3 > /proc/sys/vm/drop_caches\`, so
neither nginx nor a polar holder reads the file from memory (when the bench may not drop the cache —
not root, or a read-only /proc — the rows still run, warm, and their note says so). The timed
command for a polar arm is \`polar pull CID -o OUT\` on B's home as a whole process: it goes through
node B, which finds the holders, fetches every block over HTTP on loopback, verifies it, keeps it in
its store (fsynced) and writes OUT (fsynced before the rename). Every OUT is hashed and compared with
the input; after each run OUT is deleted, node B stopped and its home deleted, and \`sync\` run,
untimed. Value: file size / wall time (MiB/s). Row *cold pull*: ratio = one-holder / curl
throughput per round, goal ≥ 0.5; row *three holders*: ratio = three-holder / one-holder
throughput per round, goal > 1 (shown as ≥ 1.0). The three-holder row's note gives how the bytes
were spread: what each holder wrote to its sockets during the pull (\`wchar\` of /proc/PID/io),
median over rounds. Row *serving never blocks*: further rounds (as many as above; quick: two), each a cold
one-holder pull from A as above and a cold curl from nginx, alternating; during each, another client
(the bench, from its own address 127.0.0.2, a fresh connection per request) sends small requests one
after another, 5 ms apart: to A, \`GET /ipfs/bafkqaaa?format=raw\` (the gateway probe) and \`GET
/v1/hello\` (the peer protocol's ping) in turn; to nginx, \`GET /probe\` (an empty file). Only the
requests that start while the server is writing the pull's bytes count (from /proc/PID/io's
\`wchar\` sampled every 10 ms: from when it has written 1 MiB to when it stops); a request that
fails (an error, a status other than 200, no answer in 10 s) counts as taking 10 s. Value: the
99th percentile of those latencies, all rounds pooled; the "peer" is the goal, 50 ms (ratio =
p99 / 50 ms, goal ≤ 1). nginx's p99 under the same probes while curl pulls is given in the note
as the floor of this measurement (the probing client, loopback, the cold disk), not as the goal:
the issue sets an absolute bound.`,

  check() {
    if (!findNginx()) return 'peer tool missing: nginx is not on PATH (nor in /usr/sbin) — install Debian\'s package: apt-get install nginx-light (or nginx)'
    if (!which('curl')) return 'peer tool missing: curl is not on PATH — install Debian\'s package: apt-get install curl'
    return null
  },

  async run({quick, log}) {
    const mib = quick ? 64 : 256
    const runs = quick ? 3 : 5
    const bytes = mib * MiB
    const names = {
      cold: `pull ${mib} MiB over loopback, cold`,
      three: `pull ${mib} MiB from three holders at once`,
      serve: `serving never blocks: p99 of small requests during a ${mib} MiB pull`,
    }
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
      writeFileSync(join(www, 'probe'), '', {mode: 0o644})
      const input = await hashFile(file)

      // The four holders: A for the one-holder pull, H1-H3 for the three-holder pull.
      const holders = {}
      let cid
      for (const h of ['a', 'h1', 'h2', 'h3']) {
        const home = join(scratch, `home-${h}`)
        const pushed = mustSucceed(await timeProcess(node, [polarBin, 'push', file, '-q'], {env: childEnv({POLAR_HOME: home})}), `polar push (into home ${h}, no node)`)
        const got = pushed.stdout.trim()
        if (!/^baf[a-z2-7]+$/.test(got)) throw new Error(`polar push printed ${JSON.stringify(pushed.stdout.slice(0, 200))}, not a CID`)
        if (cid && got !== cid) throw new Error(`the same file pushed into two homes gave two CIDs: ${cid}, ${got}`)
        cid = got
        holders[h] = await startNode(home, {serveArgs: SERVE_ARGS})
        running.push(holders[h])
      }
      const nodeA = holders.a
      const three = [holders.h1, holders.h2, holders.h3]
      log(`  node A ${nodeA.url}; holders H1-H3 ${three.map((h) => h.url).join(', ')}; each holds ${cid}`)

      const nginx = await startNginx({bin: findNginx(), dir: join(scratch, 'nginx'), root: www, probe: 'file', probeBytes: bytes})
      running.push(nginx)
      log(`  nginx on ${nginx.url}`)

      const notCold = dropCaches()
      if (notCold) log(`  NOTE: ${notCold}`)
      const out = join(scratch, 'out.bin')
      let nodeB = null
      let warned = false
      const verify = async (who) => {
        const got = await hashFile(out)
        if (got.bytes !== input.bytes || got.sha256 !== input.sha256) {
          throw new OutputError(`${who} wrote ${got.bytes} bytes (sha256 ${got.sha256}), expected ${input.bytes} (sha256 ${input.sha256})`)
        }
      }

      /** One timed pull through a fresh node B joined to `from`; `during` wraps the timed command (the probes). */
      const pullFrom = async (from, {during} = {}) => {
        const homeB = mkdtempSync(join(scratch, 'home-b-'))
        nodeB = await startNode(homeB, {serveArgs: SERVE_ARGS})
        running.push(nodeB)
        await Promise.all(from.map((h) => joinPeer(homeB, h.url)))
        dropCaches()
        const io0 = from.map((h) => ioOf(h.pid))
        const watch = during?.start()
        const r = await timeProcess(node, [polarBin, 'pull', cid, '-o', out], {env: childEnv({POLAR_HOME: homeB})})
        await watch?.stop()
        const io1 = from.map((h) => ioOf(h.pid))
        if (r.code !== 0) {
          throw new Error(`polar pull exited with ${r.signal ?? r.code}: ${r.stderr.trim().slice(-1000)}\nnode B's log: ${nodeB.stderr().trim().slice(-2000)}\nholders' logs: ${from.map((h) => h.stderr().trim().slice(-600)).join('\n')}`)
        }
        await verify('polar pull')
        const served = io0.map((a, i) => (a && io1[i] ? (io1[i].wchar - a.wchar) / MiB : null))
        const readFromDisk = io0.map((a, i) => (a && io1[i] ? (io1[i].readBytes - a.readBytes) / MiB : null))
        return {mibs: bytes / MiB / (r.ms / 1000), served, readFromDisk}
      }
      const curl = async ({during} = {}) => {
        dropCaches()
        const watch = during?.start()
        const r = await timeProcess('curl', ['-sSf', '--noproxy', '*', '-o', out, `${nginx.url}/file`])
        await watch?.stop()
        mustSucceed(r, 'curl')
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

      // Rounds of the three arms.
      const spread = []
      const diskA = []
      let samples
      try {
        samples = await rotate({
          runs, warmup: quick ? 0 : 1, log, between,
          arms: {
            one: async () => { const r = await pullFrom([nodeA]); diskA.push(r.readFromDisk[0]); return r.mibs },
            curl: () => curl(),
            three: async () => { const r = await pullFrom(three); spread.push(r.served); return r.mibs },
          },
        })
      } catch (e) {
        if (!(e instanceof OutputError)) throw e
        log(`  FAILED: ${e.message}`)
        return [
          failedRow({name: names.cold, peer: CURL, unit: 'MiB/s', goal: PULL_GOAL, better: 'higher', status: 'output-mismatch', error: e.message}),
          failedRow({name: names.three, peer: ONE, unit: 'MiB/s', goal: THREE_GOAL, better: 'higher', status: 'output-mismatch', error: e.message}),
          failedRow({name: names.serve, peer: `goal ${P99_GOAL_MS} ms`, unit: 'ms', goal: SERVE_GOAL, better: 'lower', status: 'output-mismatch', error: e.message}),
        ]
      }
      const coldNote = notCold ?? `page cache dropped before every timed run; node A read a median ${fmt(median(diskA.slice(-runs).filter((x) => x != null)))} MiB from the disk per pull (read_bytes of /proc/PID/io)`
      const perHolder = [0, 1, 2].map((i) => median(spread.slice(-runs).map((s) => s[i]).filter((x) => x != null)))
      const input_ = {bytes, cid, sha256: input.sha256}
      const rows = [
        makeRow({
          name: names.cold, peer: CURL, unit: 'MiB/s', samples: {polar: samples.one, peer: samples.curl}, goal: PULL_GOAL, better: 'higher',
          ratioOf: (p, q) => p / q, ratioDefinition: 'polar throughput / peer throughput', note: coldNote,
          details: {input: input_, cold: !notCold},
        }),
        makeRow({
          name: names.three, peer: ONE, unit: 'MiB/s', samples: {polar: samples.three, peer: samples.one}, goal: THREE_GOAL, better: 'higher',
          ratioOf: (p, q) => p / q, ratioDefinition: 'three-holder throughput / one-holder throughput',
          note: `${notCold ? `${notCold}; ` : ''}bytes each holder wrote to its sockets per pull (median): ${perHolder.map((x) => `${fmt(x)} MiB`).join(', ')}`,
          details: {input: input_, cold: !notCold, servedMiBPerHolder: spread.slice(-runs).map((s) => s.map((x) => round(x ?? NaN, 1)))},
        }),
      ]

      // Serving never blocks: probes during further pulls (polar from A, curl from nginx).
      for (const path of PROBES) {
        const bad = await probeOnce(`${nodeA.url}${path}`)
        if (bad) throw new Error(`the serving row's probe does not work on an idle node: ${bad}`)
      }
      const nginxPid = childrenOf(nginx.pid)
      const probed = {polar: [], nginx: [], polarMiBs: [], windows: {polar: 0, nginx: 0}}
      const probing = (side, urls, pids) => ({
        start() {
          const prober = startProber(urls)
          const writes = watchWrites(pids)
          return {
            async stop() {
              const window = await writes.stop()
              const {samples: s} = await prober.stop()
              if (window) probed.windows[side]++
              // No window (no /proc, or nothing written): every probe of the run counts.
              probed[side].push(...s.filter((x) => !window || (x.t0 >= window.start && x.t0 <= window.end)))
            },
          }
        },
      })
      // Quick mode: two rounds (the probes of both are pooled), to keep --quick short.
      const serveRuns = quick ? 2 : runs
      log(`  serving: ${serveRuns} cold pulls from A and ${serveRuns} curls, with probes`)
      await rotate({
        runs: serveRuns, log, between,
        arms: {
          polar: async () => {
            const r = await pullFrom([nodeA], {during: probing('polar', PROBES.map((p) => `${nodeA.url}${p}`), [nodeA.pid])})
            probed.polarMiBs.push(r.mibs)
            return r.mibs
          },
          nginx: () => curl({during: probing('nginx', [`${nginx.url}/probe`], nginxPid.length ? nginxPid : [nginx.pid])}),
        },
      })
      const ms = (xs) => xs.map((x) => x.ms)
      const p99 = quantile(ms(probed.polar), 0.99)
      const byKind = PROBES.map((p) => `${p} ${fmtMs(quantile(ms(probed.polar.filter((x) => x.url.endsWith(p))), 0.99))}`)
      const failed = probed.polar.filter((x) => !x.ok)
      const nginxP99 = quantile(ms(probed.nginx), 0.99)
      const windowNote = probed.windows.polar < serveRuns ? `; in ${serveRuns - probed.windows.polar} of ${serveRuns} pulls the serving window could not be read from /proc, so every probe of that pull counts` : ''
      rows.push(makeRow({
        name: names.serve, peer: `goal ${P99_GOAL_MS} ms`, unit: 'ms', better: 'lower',
        samples: {polar: [p99], peer: [P99_GOAL_MS]}, goal: SERVE_GOAL,
        ratioOf: (p, q) => p / q, ratioDefinition: `p99 latency / ${P99_GOAL_MS} ms`,
        note: `${probed.polar.length} probes to A over ${serveRuns} pulls (${fmt(median(probed.polarMiBs))} MiB/s while probed), p99 by kind: ${byKind.join(', ')}; max ${fmtMs(Math.max(...ms(probed.polar)))}` +
          `${failed.length ? `; ${failed.length} failed (${[...new Set(failed.map((x) => x.status))].join(', ')})` : ''}; ` +
          `nginx under the same probes while curl pulls: p99 ${fmtMs(nginxP99)} over ${probed.nginx.length} probes${windowNote}${notCold ? `; ${notCold}` : ''}`,
        details: {
          input: input_, runs: serveRuns, probes: probed.polar.length, failedProbes: failed.length,
          p50Ms: round(quantile(ms(probed.polar), 0.5)), maxMs: round(Math.max(...ms(probed.polar))),
          nginxP99Ms: round(nginxP99), nginxProbes: probed.nginx.length, pullMiBsWhileProbed: probed.polarMiBs.map((x) => round(x)),
        },
      }))
      return rows
    } finally {
      await Promise.allSettled(running.reverse().map((p) => p.stop()))
      rmSync(scratch, {recursive: true, force: true})
    }
  },
}

const fmt = (x) => (x == null || !Number.isFinite(x) ? String(x) : x >= 100 ? x.toFixed(0) : x.toPrecision(3))
const fmtMs = (x) => (Number.isFinite(x) ? `${x >= 10 ? x.toFixed(0) : x.toFixed(1)} ms` : 'no answer')

class OutputError extends Error {}
