#!/usr/bin/env node
// Where a network pull spends its time, on every process involved: the set-up
// of the pull row (bench/pull.js) run once with V8 CPU profiles of node A (the
// holder), node B (the puller, which fetches, verifies, stores and writes OUT)
// and the `polar pull CID -o OUT` CLI process.
//   node bench/tools/profile-pull.mjs [--mib N] [--out DIR] [--top N]
// Uses the current dist/ (copied aside first; run `npm run build` before).
// Writes DIR/{a,b,cli}/*.cpuprofile plus DIR/{a,b}-pull.cpuprofile (only the
// samples taken while the pull ran) and prints bench/tools/cpuprofile.mjs'
// summary of each.
import {spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'
import {hashFile, writeRandomFile} from '../lib/files.js'
import {SERVE_ARGS, joinPeer, startNode} from '../lib/polar-node.js'
import {childEnv, mustSucceed, node, timeProcess, usePolarBin} from '../lib/proc.js'
import * as proc from '../lib/proc.js'
import {snapshotCli} from '../lib/snapshot.js'

const {values: opt} = parseArgs({options: {mib: {type: 'string', default: '256'}, out: {type: 'string'}, top: {type: 'string', default: '20'}}})
const MiB = 1024 * 1024
const bytes = Number(opt.mib) * MiB
const outDir = opt.out ?? mkdtempSync(join(tmpdir(), 'polar-profile-pull-'))
const summarise = fileURLToPath(new URL('./cpuprofile.mjs', import.meta.url))
const log = (s) => process.stderr.write(`${s}\n`)

const cli = snapshotCli()
usePolarBin(cli.bin)
const scratch = mkdtempSync(join(tmpdir(), 'polar-profile-pull-data-'))
// `polar serve` re-raises SIGTERM once a pull -o through it has committed a
// file (the atomic-output signal hook), which kills it before --cpu-prof can
// write the profile: a listener of our own keeps the process alive until
// serve's own graceful stop exits it.
const keepAlive = join(scratch, 'keep-alive-on-signal.mjs')
writeFileSync(keepAlive, "process.on('SIGTERM', () => {}); process.on('SIGINT', () => {})\n")
const prof = (name) => { mkdirSync(join(outDir, name), {recursive: true}); return ['--cpu-prof', '--cpu-prof-dir', join(outDir, name), '--import', keepAlive] }
const running = []
let window
try {
  const file = join(scratch, 'input.bin')
  log(`generating ${opt.mib} MiB of random data`)
  writeRandomFile(file, bytes)
  const input = await hashFile(file)
  const homeA = join(scratch, 'home-a')
  const homeB = join(scratch, 'home-b')
  const cid = mustSucceed(await timeProcess(node, [proc.polarBin, 'push', file, '-q'], {env: childEnv({POLAR_HOME: homeA})}), 'polar push').stdout.trim()
  const a = await startNode(homeA, {serveArgs: SERVE_ARGS, nodeArgs: prof('a')})
  running.push(a)
  const b = await startNode(homeB, {serveArgs: SERVE_ARGS, nodeArgs: prof('b')})
  running.push(b)
  await joinPeer(homeB, a.url)
  await new Promise((r) => setTimeout(r, 500)) // let both settle
  const out = join(scratch, 'out.bin')
  const t0 = process.hrtime.bigint()
  const r = mustSucceed(await timeProcess(node, [...prof('cli').slice(0, 3), proc.polarBin, 'pull', cid, '-o', out], {env: childEnv({POLAR_HOME: homeB})}), 'polar pull')
  const t1 = process.hrtime.bigint()
  window = [Number(t0 / 1000n), Number(t1 / 1000n)] // µs, CLOCK_MONOTONIC like V8's profile timestamps
  const got = await hashFile(out)
  if (got.sha256 !== input.sha256) throw new Error('the pulled file differs from the input')
  log(`pull of ${opt.mib} MiB: ${r.ms.toFixed(0)} ms, ${(bytes / MiB / (r.ms / 1000)).toFixed(1)} MiB/s (verified)`)
} finally {
  for (const n of running.reverse()) {
    const st = await n.stop()
    if (st.code !== 0) log(`node ${n.url} exited with ${st.signal ?? st.code}`)
  }
  rmSync(scratch, {recursive: true, force: true})
  cli.remove()
}

/** The samples of a profile that fall inside [from, to] (µs). */
function trim(path, [from, to]) {
  const p = JSON.parse(readFileSync(path, 'utf8'))
  const samples = []
  const deltas = []
  let t = p.startTime
  let last = null
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i]
    if (t < from || t > to) continue
    samples.push(p.samples[i])
    deltas.push(last == null ? 0 : t - last)
    last = t
  }
  return {...p, startTime: from, endTime: to, samples, timeDeltas: deltas}
}

const files = {}
for (const name of ['a', 'b', 'cli']) {
  const f = readdirSync(join(outDir, name)).filter((x) => x.endsWith('.cpuprofile'))
  if (f.length) files[name] = join(outDir, name, f[0])
}
for (const name of ['a', 'b']) {
  if (!files[name]) continue
  const trimmed = trim(files[name], window)
  const path = join(outDir, `${name}-pull.cpuprofile`)
  writeFileSync(path, JSON.stringify(trimmed))
  files[`${name}-pull`] = path
}
/**
 * Node B's sampled time in buckets that map to the code (first matching rule
 * wins, by the stack of each sample): what an optimisation has to remove.
 */
function breakdown(path) {
  const p = JSON.parse(readFileSync(path, 'utf8'))
  const byId = new Map(p.nodes.map((x) => [x.id, x]))
  const parent = new Map()
  for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id)
  // The bundle's chunk names change per build: find AtomicOutput's file by writeChunks, which sits beside it.
  const outFile = p.nodes.find((x) => x.callFrame.functionName === 'writeChunks')?.callFrame.url
  const rules = [
    ['idle (waiting: for the CLI to connect, for node A, for I/O)', (c) => c[0].functionName === '(idle)'],
    ['garbage collector', (c) => c[0].functionName === '(garbage collector)'],
    ['OUT: final fsync (AtomicOutput.commit)', (c) => c.some((f) => f.functionName === 'commit' && f.url === outFile)],
    ['OUT: writeSync of the file bytes (AtomicOutput.write)', (c) => c.some((f) => f.functionName === 'write' && f.url === outFile)],
    ['sha256 on arrival (PeerClient.getBlock)', (c) => c.some((f) => f.functionName === 'sha256') && c.some((f) => f.functionName === 'getBlock')],
    ['sha256 again in the reader (readFile fetch -> verifyBlock)', (c) => c.some((f) => f.functionName === 'sha256') && c.some((f) => f.functionName === 'fetch')],
    ['sha256 elsewhere', (c) => c.some((f) => f.functionName === 'sha256')],
    ['store: PackWriter.put (async pack writes, index, checkpoints)', (c) => c.some((f) => ['put', 'checkpoint'].includes(f.functionName) && /chunk|store/.test(f.url) && !/undici/.test(f.url))],
    ['HTTP client: Buffer.concat of response bodies', (c) => c.some((f) => f.functionName === 'concat' && f.url === 'node:buffer')],
    ['HTTP client: undici, sockets, streams', (c) => c.some((f) => /undici|node:net|stream_base|streams\/|_http/.test(f.url) || f.functionName === 'writeLatin1String')],
    ['other', () => true],
  ]
  const sums = new Map(rules.map(([k]) => [k, 0]))
  let total = 0
  for (let i = 0; i < p.samples.length; i++) {
    const chain = []
    for (let x = p.samples[i]; x != null; x = parent.get(x)) chain.push(byId.get(x).callFrame)
    const [k] = rules.find(([, f]) => f(chain))
    sums.set(k, sums.get(k) + p.timeDeltas[i])
    total += p.timeDeltas[i]
  }
  process.stdout.write(`\n===== node B while the pull ran, by what the time did (${(total / 1000).toFixed(0)} ms)\n`)
  for (const [k, us] of [...sums].filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1])) {
    process.stdout.write(`${(us / 1000).toFixed(0).padStart(8)} ms ${(100 * us / total).toFixed(1).padStart(5)}%  ${k}\n`)
  }
}

if (files['b-pull']) breakdown(files['b-pull'])
const titles = {
  'b-pull': 'node B (the puller) while the pull ran',
  'a-pull': 'node A (the holder) while the pull ran',
  cli: 'the polar pull CLI process (whole life)',
}
for (const [key, title] of Object.entries(titles)) {
  if (!files[key]) { log(`no profile for ${title}`); continue }
  process.stdout.write(`\n===== ${title}: ${files[key]}\n`)
  spawnSync(node, [summarise, files[key], '', opt.top], {stdio: 'inherit'})
}
log(`\nprofiles in ${outDir}`)
