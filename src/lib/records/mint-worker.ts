import {Worker} from 'node:worker_threads'
import {mintStamp, STAMP_PREFIX, stampProblem, type Stamp} from './stamp.js'

// The same search as stamp.ts mintStamp (prefix, resource, time, hex nonce; leading zero bits of
// sha-256), as a self-contained script for a worker thread. The result is checked with
// stampProblem before use, so this copy can never hand out a stamp that does not verify.
const SEARCH = `
const {parentPort, workerData} = require('node:worker_threads')
const {createHash} = require('node:crypto')
const {prefix, resource, time, bits} = workerData
const head = prefix + '\\n' + resource + '\\n' + time + '\\n'
const full = bits >> 3, rest = bits & 7
for (let i = 0; ; i++) {
  const nonce = i.toString(16)
  const h = createHash('sha256').update(head + nonce).digest()
  let ok = true
  for (let j = 0; j < full; j++) if (h[j] !== 0) { ok = false; break }
  if (ok && rest && (h[full] >> (8 - rest)) !== 0) ok = false
  if (ok) { parentPort.postMessage(nonce); break }
}
`

/**
 * Mints a stamp in a worker thread: the node's event loop stays free while it
 * works (about a second at the default difficulty), and the garbage of half a
 * million hashes lives and dies in the worker's own heap instead of growing
 * the node's. Falls back to minting in-process if a worker cannot start.
 */
export async function mintStampInWorker(resource: string, time: number, bits: number, signal?: AbortSignal): Promise<Stamp> {
  signal?.throwIfAborted()
  let worker: Worker
  const done = new AbortController()
  try {
    worker = new Worker(SEARCH, {eval: true, workerData: {prefix: STAMP_PREFIX, resource, time, bits}, resourceLimits: {maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 16}})
  } catch {
    return mintStamp(resource, time, bits, signal)
  }
  const onAbort = () => worker.terminate().catch(() => {})
  const nonce = await new Promise<string>((resolve, reject) => {
    signal?.addEventListener('abort', () => reject(signal.reason ?? new Error('aborted')), {once: true, signal: done.signal})
    signal?.addEventListener('abort', onAbort, {once: true, signal: done.signal})
    worker.once('message', (m) => resolve(String(m)))
    worker.once('error', reject)
    worker.once('exit', (code) => reject(new Error(`stamp worker exited (${code}) without a stamp`)))
  }).finally(() => {
    done.abort() // removes the listeners from the caller's (long-lived) signal
    worker.terminate().catch(() => {})
  })
  const stamp = {bits, nonce}
  const problem = stampProblem(stamp, resource, time, bits)
  if (problem) throw new Error(`stamp worker found a nonce that does not verify: ${problem}`)
  return stamp
}
