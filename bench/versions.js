// Rows "versions": ten versions of one file, each with ~1% of its bytes
// changed in scattered runs plus a few small insertions (issue 6).
// - store growth: all ten pushed (same name, same key: each picks the one
//   before as its base) into one home; pack bytes on disk / one version's size;
// - transfer: node B holding version N pulls N+1 from node A through a
//   counting TCP proxy; bytes both ways / version size;
// - delta encoding speed: raw bytes of the new leaves / CPU time the push spent
//   encoding them (push --json reports it), median over versions 2..10;
// - delta push: a push that delta-encodes against the previous version,
//   against a plain push of the same file into a home without that version
//   (issue 15 point 3), alternating.
// Every version is pulled back from A and from B and compared (untimed).
import {createHash, randomBytes, randomFillSync} from 'node:crypto'
import {cpSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {createServer, connect} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {hashFile} from './lib/files.js'
import {SERVE_ARGS, joinPeer, startNode} from './lib/polar-node.js'
import {childEnv, mustSucceed, node, polarBin, syncDisks, timeProcess} from './lib/proc.js'
import {alternate, median} from './lib/stats.js'
import {failedRow, makeRow} from './lib/row.js'

const MiB = 1024 * 1024
/** Delta encoding must keep up with the disk (issue 15 point 3). */
const ENCODE_TARGET_MIBS = 150
const DELTA_PUSH_GOAL = {op: '>=', value: 0.8}

/** Next version: ~1% of bytes overwritten in runs of 16..1024 bytes at random places, and 5 insertions of 1..100 bytes. */
function mutate(prev) {
  const next = Buffer.from(prev)
  let changed = 0
  while (changed < prev.length * 0.01) {
    const n = 16 + Math.floor(Math.random() * 1009)
    const at = Math.floor(Math.random() * (next.length - n))
    randomFillSync(next, at, n)
    changed += n
  }
  const cuts = Array.from({length: 5}, () => Math.floor(Math.random() * next.length)).sort((a, b) => a - b)
  const parts = []
  let last = 0
  for (const c of cuts) {
    parts.push(next.subarray(last, c), randomBytes(1 + Math.floor(Math.random() * 100)))
    last = c
  }
  parts.push(next.subarray(last))
  return Buffer.concat(parts)
}

const sha = (b) => createHash('sha256').update(b).digest('hex')

function packBytes(home) {
  const dir = join(home, 'blocks')
  return readdirSync(dir).filter((f) => f.startsWith('pack-')).reduce((s, f) => s + statSync(join(dir, f)).size, 0)
}

/** A TCP proxy to `target` (host:port) that counts the bytes it carries both ways. */
function countingProxy(targetUrl) {
  const t = new URL(targetUrl)
  const counter = {bytes: 0}
  const server = createServer((c) => {
    const up = connect(Number(t.port), t.hostname)
    c.on('data', (d) => { counter.bytes += d.length })
    up.on('data', (d) => { counter.bytes += d.length })
    c.pipe(up)
    up.pipe(c)
    c.on('error', () => up.destroy())
    up.on('error', () => c.destroy())
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}`,
    counter,
    stop: () => new Promise((r) => { server.close(() => r()); server.closeAllConnections?.() }),
  })))
}

export default {
  name: 'versions',
  rows: ['versions: store growth, 10 versions', 'versions: pull vN+1 holding vN, wire bytes', 'versions: delta encoding speed', 'versions: delta push 64 MiB vs plain push (quick: 16 MiB)'],
  describe: `**versions** — ten versions of one random file (64 MiB; quick: 8 MiB and 5 versions), each
made from the one before by overwriting ~1% of its bytes in runs of 16–1024 bytes at random places
and inserting 5 runs of 1–100 bytes at random places (every later 1 MiB chunk shifts). All are
pushed into home A with no node running (\`polar push FILE --name data.bin --json\`; each version
picks the one before as its delta base by itself). Store growth = bytes of A's pack files after
all pushes / one version's size (storing everything raw would be 10×); goal ≤ 1.5. Then node A
serves home A, node B (empty home) joins A through a TCP proxy that counts bytes in both
directions, pulls version 1, and then each next version (\`polar pull CID -o OUT\` on B): wire =
proxy bytes during that pull / the version's size, median over versions 2..N; goal ≤ 0.15. Delta
encoding speed = raw bytes of the new leaves / the CPU time push spent choosing their encoding
(reading and indexing base leaves, rolling-hash matching, gzip; \`encoding.encodeCpuMs\` of push
--json: CPU, not wall, because this machine is shared and wall time there counts waiting for a
core), median over versions; goal ≥ 150 MiB/s (shown as a ratio to 150). Every version is pulled
back from A and from B and compared with its input (untimed). Delta push: two template homes are
made once, with no node running: one holding version 1 of a random 64 MiB file (quick: 16 MiB)
under the name \`data.bin\`, the other holding an unrelated random file of the same size under another
name. Each run makes a next version from version 1 as above (untimed), copies the template home
aside (untimed, then \`sync\`) and times \`polar push FILE --name data.bin --json\` as a whole
process: into the copy of the first template it picks version 1 as its base and delta-encodes; into
the copy of the second it has no base and stores the leaves plainly (raw or gzip). The two sides
push the same file from the page cache and must print the same root CID; the delta side must report
delta leaves and the plain side none, else the row fails. One untimed warm-up each, then
alternating pairs (order flips every pair), the copy deleted and \`sync\` run after every run.
Value: file size / wall time (MiB/s); ratio = delta push / plain push throughput per pair; goal ≥ 0.8.`,

  async run({quick, log}) {
    const mib = quick ? 8 : 64
    const count = quick ? 5 : 10
    const size = mib * MiB
    const scratch = mkdtempSync(join(tmpdir(), 'polar-bench-versions-'))
    const running = []
    try {
      const homeA = join(scratch, 'home-a')
      const homeB = join(scratch, 'home-b')
      const file = join(scratch, 'data.bin')
      const versions = []
      let cur = randomBytes(size)
      const speeds = []
      log(`  pushing ${count} versions of ${mib} MiB into home A`)
      for (let i = 0; i < count; i++) {
        if (i > 0) cur = mutate(cur)
        writeFileSync(file, cur)
        const r = mustSucceed(await timeProcess(node, [polarBin, 'push', file, '--name', 'data.bin', '--json'], {env: childEnv({POLAR_HOME: homeA})}), `polar push version ${i + 1}`)
        const out = JSON.parse(r.stdout)
        versions.push({cid: out.cid, sha256: sha(cur), bytes: cur.length})
        if (i > 0) {
          const e = out.encoding
          speeds.push((e.rawBytes / MiB) / (e.encodeCpuMs / 1000))
          log(`  v${i + 1}: ${e.delta} delta, ${e.gzip} gzip, ${e.raw} raw leaves; ${(e.storedBytes / 1024).toFixed(0)} KiB stored for ${(e.rawBytes / MiB).toFixed(1)} MiB; encoding ${speeds.at(-1).toFixed(0)} MiB/s of CPU (wall ${((e.rawBytes / MiB) / (e.encodeMs / 1000)).toFixed(0)} MiB/s)`)
        }
      }
      const stored = packBytes(homeA)
      const growth = stored / size
      log(`  store: ${(stored / MiB).toFixed(1)} MiB for ${count} versions (${growth.toFixed(2)}x one version)`)

      const nodeA = await startNode(homeA, {serveArgs: SERVE_ARGS})
      running.push(nodeA)
      const check = async (home, v, what) => {
        const out = join(scratch, 'out.bin')
        mustSucceed(await timeProcess(node, [polarBin, 'pull', v.cid, '-o', out], {env: childEnv({POLAR_HOME: home})}), `polar pull ${what}`)
        const got = await hashFile(out)
        rmSync(out, {force: true})
        if (got.sha256 !== v.sha256) throw new Error(`${what}: pulled bytes differ from the input`)
      }
      for (const [i, v] of versions.entries()) await check(homeA, v, `v${i + 1} from A`)
      log('  every version pulls back exact from A')

      const proxy = await countingProxy(nodeA.url)
      running.push(proxy)
      mustSucceed(await timeProcess(node, [polarBin, 'keygen'], {env: childEnv({POLAR_HOME: homeB})}), 'keygen B')
      const nodeB = await startNode(homeB, {serveArgs: SERVE_ARGS})
      running.push(nodeB)
      await joinPeer(homeB, proxy.url)
      await check(homeB, versions[0], 'v1 on B')
      const wire = []
      for (let i = 1; i < versions.length; i++) {
        proxy.counter.bytes = 0
        await check(homeB, versions[i], `v${i + 1} on B`)
        wire.push(100 * proxy.counter.bytes / versions[i].bytes)
        log(`  B holding v${i} pulls v${i + 1}: ${(proxy.counter.bytes / 1024).toFixed(0)} KiB over the wire (${wire.at(-1).toFixed(1)}%)`)
      }
      const input = {versions: count, mib, cids: versions.map((v) => v.cid)}
      return [
        makeRow({
          name: `versions: store growth, ${count} versions`, peer: 'one version stored raw', unit: 'MiB',
          samples: {polar: [stored / MiB], peer: [size / MiB]}, goal: {op: '<=', value: 1.5}, better: 'lower',
          ratioOf: (p, q) => p / q, ratioDefinition: `store after ${count} versions / one version (all raw: ${count}x)`, details: {input},
        }),
        makeRow({
          name: 'versions: pull vN+1 holding vN, wire bytes', peer: 'the version size', unit: '%',
          samples: {polar: wire, peer: wire.map(() => 100)}, goal: {op: '<=', value: 15}, better: 'lower',
          ratioOf: (p) => p, ratioDefinition: 'bytes over the wire (both ways) as % of the version size', details: {input},
        }),
        makeRow({
          name: 'versions: delta encoding speed', peer: `target ${ENCODE_TARGET_MIBS} MiB/s`, unit: 'MiB/s',
          samples: {polar: speeds, peer: speeds.map(() => ENCODE_TARGET_MIBS)}, goal: {op: '>=', value: 1.0}, better: 'higher',
          ratioOf: (p, q) => p / q, ratioDefinition: `encoding throughput / ${ENCODE_TARGET_MIBS} MiB/s`, details: {input, medianMiBs: median(speeds)},
        }),
        await deltaPush({quick, log, scratch}),
      ]
    } finally {
      await Promise.allSettled(running.reverse().map((p) => p.stop()))
      rmSync(scratch, {recursive: true, force: true})
    }
  },
}

/** Row "delta push vs plain push": the same next version pushed into a home holding its base and into one without. */
async function deltaPush({quick, log, scratch}) {
  const mib = quick ? 16 : 64
  const runs = quick ? 3 : 5
  const size = mib * MiB
  const name = `versions: delta push ${mib} MiB vs plain push`
  const PEER = 'plain push of the same file (no base)'
  const v1 = randomBytes(size)
  const file = join(scratch, 'push-next.bin')
  const tplDelta = join(scratch, 'tpl-delta')
  const tplPlain = join(scratch, 'tpl-plain')
  const seed = join(scratch, 'push-v1.bin')
  writeFileSync(seed, v1)
  mustSucceed(await timeProcess(node, [polarBin, 'push', seed, '--name', 'data.bin', '-q'], {env: childEnv({POLAR_HOME: tplDelta})}), 'polar push (delta template)')
  writeFileSync(seed, randomBytes(size))
  mustSucceed(await timeProcess(node, [polarBin, 'push', seed, '--name', 'other.bin', '-q'], {env: childEnv({POLAR_HOME: tplPlain})}), 'polar push (plain template)')
  rmSync(seed)
  log(`  delta push: ${runs} pairs of ${mib} MiB pushes, into a home holding version 1 and into one without`)

  let home = null
  let cid = null
  let pair = null
  const encodings = {delta: [], plain: []}
  /** Each pair pushes one new version: made when the pair's first run starts. */
  const nextVersion = () => {
    if (pair?.used === 2 || !pair) {
      writeFileSync(file, mutate(v1))
      pair = {used: 0, cid: null}
    }
    pair.used++
  }
  const push = (template, side) => async () => {
    nextVersion()
    home = mkdtempSync(join(scratch, `push-${side}-`))
    cpSync(template, home, {recursive: true})
    syncDisks()
    const r = mustSucceed(await timeProcess(node, [polarBin, 'push', file, '--name', 'data.bin', '--json'], {env: childEnv({POLAR_HOME: home})}), `polar push (${side})`)
    const out = JSON.parse(r.stdout)
    const e = out.encoding
    if (side === 'delta' && !(e.delta > 0)) throw new EncodingError(`the push into the home holding version 1 stored no delta leaf (${JSON.stringify(e)}): it did not delta-encode`)
    if (side === 'plain' && e.delta !== 0) throw new EncodingError(`the push into the home without version 1 stored ${e.delta} delta leaves`)
    pair.cid ??= out.cid
    if (out.cid !== pair.cid) throw new EncodingError(`the two pushes of one file printed two root CIDs: ${pair.cid}, ${out.cid}`)
    cid = out.cid
    encodings[side].push(e)
    return size / MiB / (r.ms / 1000)
  }
  const between = async () => {
    if (home) rmSync(home, {recursive: true, force: true})
    home = null
    syncDisks()
  }
  let samples
  try {
    samples = await alternate({runs, warmup: 1, log, between, polar: push(tplDelta, 'delta'), peer: push(tplPlain, 'plain')})
  } catch (e) {
    if (!(e instanceof EncodingError)) throw e
    log(`  FAILED: ${e.message}`)
    return failedRow({name, peer: PEER, unit: 'MiB/s', goal: DELTA_PUSH_GOAL, better: 'higher', status: 'not-delta', error: e.message})
  }
  const d = encodings.delta.slice(-runs)
  const p = encodings.plain.slice(-runs)
  const wallSpeed = (e) => (e.rawBytes / MiB) / (e.encodeMs / 1000)
  return makeRow({
    name, peer: PEER, unit: 'MiB/s', samples, goal: DELTA_PUSH_GOAL, better: 'higher',
    ratioOf: (a, b) => a / b, ratioDefinition: 'delta push throughput / plain push throughput',
    note: `delta side: median ${median(d.map((e) => e.delta)).toFixed(0)} delta leaves, ${(median(d.map((e) => e.storedBytes)) / 1024).toFixed(0)} KiB stored, encoding ${median(d.map(wallSpeed)).toFixed(0)} MiB/s wall (${median(d.map((e) => e.encodeMs)).toFixed(0)} ms); ` +
      `plain side: ${(median(p.map((e) => e.storedBytes)) / MiB).toFixed(1)} MiB stored, encoding ${median(p.map((e) => e.encodeMs)).toFixed(0)} ms`,
    details: {input: {bytes: size, lastCid: cid}},
  })
}

class EncodingError extends Error {}
