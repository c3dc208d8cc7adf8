#!/usr/bin/env node
// Throughput of polar's chunked AEAD (src/lib/crypto, issue 18: an encrypted
// push must keep >= 0.8x a plain push, ~400 MiB/s here, so the AEAD must run
// well above 1 GB/s on one core):
//   node --import tsx bench/tools/crypto-throughput.mjs [--mib 256] [--rounds 3] [--cli]
// 1. the two AEADs node:crypto offers, on 1 MiB chunks (one cipher object
//    per chunk, as STREAM needs): AES-256-GCM and ChaCha20-Poly1305;
// 2. polar's STREAM (encryptStream / decryptStream) over MIB MiB held in
//    memory, fed in 1 MiB pieces, as a push or pull would;
// 3. with --cli: `polar encrypt FILE -o OUT` and `polar decrypt OUT -o
//    /dev/null` as whole processes (file reads, atomic write and fsync included).
// Each figure is the median over rounds, in MiB/s of plaintext, by wall time
// and by CPU time (user+sys of this process: on a shared machine the wall
// time also counts waiting for a core). Rounds alternate the candidates.
import {spawnSync} from 'node:child_process'
import {createCipheriv, createDecipheriv, randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

const {values: opt} = parseArgs({options: {mib: {type: 'string', default: '256'}, rounds: {type: 'string', default: '3'}, cli: {type: 'boolean', default: false}}})
const MiB = 1024 * 1024
const total = Number(opt.mib) * MiB
const rounds = Number(opt.rounds)
const {PLAIN_CHUNK_SIZE, encryptStream, decryptStream, encryptedSize, newContentKey} = await import('../../src/lib/crypto/index.ts')

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
function timed(fn) {
  const cpu = process.cpuUsage()
  const t = performance.now()
  const r = fn()
  const done = () => {
    const c = process.cpuUsage(cpu)
    return {wall: (performance.now() - t) / 1000, cpu: (c.user + c.system) / 1e6}
  }
  return r instanceof Promise ? r.then(done) : done()
}
const rate = (bytes, s) => bytes / MiB / s

const plainChunk = randomBytes(PLAIN_CHUNK_SIZE)
const chunks = Math.ceil(total / PLAIN_CHUNK_SIZE)
const key = randomBytes(32)

function rawEncrypt(alg) {
  let out
  for (let i = 0; i < chunks; i++) {
    const iv = Buffer.alloc(12)
    iv.writeUInt32BE(i, 7)
    const c = createCipheriv(alg, key, iv, {authTagLength: 16})
    const body = c.update(plainChunk)
    c.final()
    out = Buffer.concat([body, c.getAuthTag()])
  }
  return out
}
function rawDecrypt(alg, sealed) {
  const iv = Buffer.alloc(12)
  iv.writeUInt32BE(chunks - 1, 7)
  for (let i = 0; i < chunks; i++) {
    const d = createDecipheriv(alg, key, iv, {authTagLength: 16})
    d.setAuthTag(sealed.subarray(sealed.length - 16))
    d.update(sealed.subarray(0, sealed.length - 16))
    d.final()
  }
}

// Plaintext for the STREAM rows: MIB MiB of random bytes, read as `polar encrypt` reads a file (pieces of
// PLAIN_CHUNK_SIZE, so the chunker passes them on without a copy). Ciphertext is produced and dropped
// (the encrypt row) or kept for the decrypt row, which reads it in 1 MiB pieces: a private object's leaves.
const plain = randomBytes(total)
const plainAligned = []
for (let at = 0; at < total; at += PLAIN_CHUNK_SIZE) plainAligned.push(plain.subarray(at, at + PLAIN_CHUNK_SIZE))
async function * pieces(list) { for (const p of list) yield p }

const results = {}
const add = (name, bytes, t) => { (results[name] ??= {wall: [], cpu: []}).wall.push(rate(bytes, t.wall)); results[name].cpu.push(rate(bytes, t.cpu)) }

log(`load average ${loadavg().map((x) => x.toFixed(2)).join(', ')}; ${opt.mib} MiB, ${rounds} rounds`)
for (let r = 0; r < rounds; r++) {
  for (const alg of r % 2 ? ['chacha20-poly1305', 'aes-256-gcm'] : ['aes-256-gcm', 'chacha20-poly1305']) {
    let sealed
    add(`${alg} encrypt (1 MiB chunks)`, chunks * PLAIN_CHUNK_SIZE, timed(() => { sealed = rawEncrypt(alg) }))
    add(`${alg} decrypt (1 MiB chunks)`, chunks * PLAIN_CHUNK_SIZE, timed(() => rawDecrypt(alg, sealed)))
  }
  const k = newContentKey()
  let sealedBytes = 0
  add('polar STREAM encrypt', total, await timed(async () => { for await (const c of encryptStream(k, pieces(plainAligned))) sealedBytes += c.length }))
  if (sealedBytes !== encryptedSize(total)) throw new Error(`STREAM gave ${sealedBytes} bytes, not ${encryptedSize(total)}`)
  const cipher = []
  for await (const c of encryptStream(k, pieces(plainAligned))) cipher.push(c) // untimed: the decrypt row's input
  let n = 0
  add('polar STREAM decrypt', total, await timed(async () => { for await (const p of decryptStream(k, pieces(cipher))) n += p.length }))
  if (n !== total) throw new Error(`STREAM round trip gave ${n} bytes, not ${total}`)
}

if (opt.cli) {
  const root = fileURLToPath(new URL('../..', import.meta.url))
  const dir = mkdtempSync(join(tmpdir(), 'polar-crypto-bench-'))
  try {
    const env = {...process.env, POLAR_HOME: join(dir, 'home'), NO_COLOR: '1'}
    const file = join(dir, 'plain')
    writeFileSync(file, plain)
    const run = (args) => {
      const t = performance.now()
      const p = spawnSync(process.execPath, [join(root, 'bin/run.js'), ...args], {env, stdio: ['ignore', 'ignore', 'pipe']})
      if (p.status !== 0) throw new Error(`polar ${args.join(' ')}: exit ${p.status}: ${p.stderr}`)
      return (performance.now() - t) / 1000
    }
    run(['keygen'])
    for (let r = 0; r < rounds; r++) {
      const env1 = join(dir, 'env')
      const w1 = run(['encrypt', file, '-o', env1])
      ;(results['polar encrypt FILE -o OUT (process)'] ??= {wall: [], cpu: []}).wall.push(rate(total, w1))
      const w2 = run(['decrypt', env1, '-o', '/dev/null'])
      ;(results['polar decrypt OUT -o /dev/null (process)'] ??= {wall: [], cpu: []}).wall.push(rate(total, w2))
      rmSync(env1)
    }
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

for (const [name, {wall, cpu}] of Object.entries(results)) {
  console.log(`${name.padEnd(44)} ${median(wall).toFixed(0).padStart(6)} MiB/s wall${cpu.length ? `  ${median(cpu).toFixed(0).padStart(6)} MiB/s CPU` : ''}   (wall: ${wall.map((x) => x.toFixed(0)).join(', ')})`)
}
log(`load average ${loadavg().map((x) => x.toFixed(2)).join(', ')}`)

function log(s) { process.stderr.write(`${s}\n`) }
