import {availableParallelism} from 'node:os'
import {Worker} from 'node:worker_threads'
import type {CID} from 'multiformats/cid'
import {blockMatches} from './cid.js'
import {MAX_BLOCK_SIZE, SHA2_256_CODE} from './constants.js'

/**
 * A small pool of worker threads that sha-256 blocks for a node's bulk
 * fetches, so hashing runs beside the main thread's network and disk work.
 * Only blocks in SharedArrayBuffer memory go to the workers (nothing is
 * copied; see sharedAlloc); anything else, and any batch when the workers
 * are unavailable, is hashed on the calling thread. Node's own crypto in both.
 *
 * Batches from plain-http peers never come here: the bulk client hashes each
 * block as it arrives (net/peer/bulk.ts), which costs less CPU than hashing it
 * here afterwards. This pool checks what undici fetched (https peers).
 */
const WORKER_SOURCE = `
const {parentPort} = require('node:worker_threads')
const {createHash} = require('node:crypto')
parentPort.on('message', ({id, sab, ranges}) => {
  const digests = new Uint8Array(32 * (ranges.length / 2))
  for (let i = 0; i < ranges.length; i += 2) digests.set(createHash('sha256').update(new Uint8Array(sab, ranges[i], ranges[i + 1])).digest(), 16 * i)
  parentPort.postMessage({id, digests}, [digests.buffer])
})
`

/** Blocks smaller than this are hashed in place: a round trip to a worker costs more. */
const MIN_POOLED_BYTES = 64 * 1024

let workers: Worker[] | undefined
/** Workers that have started (a new one takes tens of milliseconds; until then blocks are hashed here). */
const online = new Set<Worker>()
/** Workers idle `idleRetireMs` are ended (retire); `size` is how many run now. */
export const hashPool = {idleRetireMs: 30_000, size: (): number => workers?.length ?? 0, online: (): number => online.size}
let idleTimer: NodeJS.Timeout | undefined
let broken = false
let nextId = 0
/** Digests come back packed: 32 bytes per range, in order. */
const waiting = new Map<number, {resolve: (d: Uint8Array) => void; reject: (e: unknown) => void}>()

function pool(): Worker[] | undefined {
  if (broken) return undefined
  if (workers) return workers
  try {
    const n = Math.max(1, Math.min(2, availableParallelism()))
    workers = Array.from({length: n}, () => {
      const w = new Worker(WORKER_SOURCE, {eval: true})
      w.on('message', ({id, digests}: {id: number; digests: Uint8Array}) => {
        const p = waiting.get(id)
        waiting.delete(id)
        if (waiting.size === 0) {
          for (const x of workers ?? []) x.unref()
          clearTimeout(idleTimer)
          idleTimer = setTimeout(retire, hashPool.idleRetireMs).unref()
        }
        p?.resolve(digests)
      })
      w.on('online', () => online.add(w))
      w.on('error', fail)
      w.on('exit', () => fail(new Error('hash worker exited')))
      // Idle workers never keep the process alive (hashOn refs them while a job is out).
      w.unref()
      return w
    })
  } catch {
    broken = true
    return undefined
  }
  // Started but possibly never used (blocks are hashed here until a worker is online): they retire like idle ones.
  if (!idleTimer) idleTimer = setTimeout(retire, hashPool.idleRetireMs).unref()
  return workers
}

/**
 * Ends the workers after a quiet spell: each holds a V8 isolate (several MB
 * of RSS) that an idle node should not keep. The next bulk fetch starts new ones.
 */
function retire(): void {
  idleTimer = undefined
  if (waiting.size > 0 || !workers) return
  endAll(workers)
  workers = undefined
}

/** Terminates workers quietly (their exit is not a failure). */
function endAll(ws: Worker[]): void {
  for (const w of ws) {
    online.delete(w)
    w.removeAllListeners('exit')
    w.removeAllListeners('error')
    w.on('error', () => {})
    w.terminate().catch(() => {})
  }
}

function fail(err: unknown): void {
  broken = true
  // The others go too: blocks are hashed on the calling thread from now on.
  endAll(workers ?? [])
  workers = undefined
  online.clear()
  for (const p of waiting.values()) p.reject(err)
  waiting.clear()
}

function hashOn(worker: Worker, sab: SharedArrayBuffer, ranges: number[]): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const id = nextId++
    if (idleTimer) {
      clearTimeout(idleTimer)
      idleTimer = undefined
    }
    if (waiting.size === 0) for (const x of workers ?? []) x.ref()
    waiting.set(id, {resolve, reject})
    worker.postMessage({id, sab, ranges})
  })
}

/**
 * Starts the workers now (a worker takes tens of milliseconds to start;
 * verifyMany hashes on the calling thread until one is online). They retire
 * after idleRetireMs as usual if nothing comes.
 */
export function warmHashPool(): void {
  pool()
}

/** A buffer in shared memory (for response bodies whose blocks verifyMany hashes on the workers). */
export function sharedAlloc(size: number): Buffer {
  return Buffer.from(new SharedArrayBuffer(size))
}

/**
 * For each block: true when it is within the size cap and hashes (sha2-256)
 * to its CID. Blocks in shared memory are split over the worker threads.
 */
export async function verifyMany(blocks: Array<{cid: CID; bytes: Uint8Array}>): Promise<boolean[]> {
  const ok: boolean[] = new Array(blocks.length).fill(false)
  const pooled: number[] = []
  for (let i = 0; i < blocks.length; i++) {
    const {cid, bytes} = blocks[i]
    if (bytes.length > MAX_BLOCK_SIZE || cid.multihash.code !== SHA2_256_CODE) continue
    if (bytes.buffer instanceof SharedArrayBuffer && bytes.length >= MIN_POOLED_BYTES) pooled.push(i)
    else ok[i] = blockMatches(cid, bytes)
  }
  // Workers start only when there is something for them (a node that never needs them never pays for them).
  const ws = pooled.length > 0 ? pool()?.filter((w) => online.has(w)) : undefined
  if (pooled.length === 0 || !ws || ws.length === 0) {
    for (const i of pooled) ok[i] = blockMatches(blocks[i].cid, blocks[i].bytes)
    return ok
  }
  // Contiguous shares, one per worker, one message each per shared buffer (a batch is one buffer).
  const share = Math.ceil(pooled.length / ws.length)
  const jobs: Array<Promise<void>> = []
  for (let w = 0; w < ws.length && w * share < pooled.length; w++) {
    const mine = pooled.slice(w * share, (w + 1) * share)
    const bySab = new Map<SharedArrayBuffer, number[]>()
    for (const i of mine) {
      const sab = blocks[i].bytes.buffer as SharedArrayBuffer
      if (!bySab.has(sab)) bySab.set(sab, [])
      bySab.get(sab)!.push(i)
    }
    for (const [sab, idx] of bySab) {
      const ranges = idx.flatMap((i) => [blocks[i].bytes.byteOffset, blocks[i].bytes.length])
      jobs.push(hashOn(ws[w], sab, ranges).then((digests) => {
        idx.forEach((i, j) => { ok[i] = Buffer.compare(digests.subarray(32 * j, 32 * j + 32), blocks[i].cid.multihash.digest) === 0 })
      }, () => {
        for (const i of idx) ok[i] = blockMatches(blocks[i].cid, blocks[i].bytes)
      }))
    }
  }
  await Promise.all(jobs)
  return ok
}
