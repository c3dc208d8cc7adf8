import type {Writable} from 'node:stream'
import {AtomicOutput} from './atomic-output.js'
import {releaseBlock} from './block-pool.js'

/** A local pull can run entirely in microtasks: yield to the event loop this often (signals, cleanup). */
const YIELD_EVERY_BYTES = 4 * 1024 * 1024

export interface OutputOptions {
  /** Write here atomically; otherwise to `stdout`. */
  output?: string
  stdout?: Writable
  total?: number
  onProgress?: (event: {bytes: number; total?: number}) => void
}

export interface PullResult {
  cid: string
  size: number
  path?: string
}

/** Writes verified chunks to an atomic -o file or to stdout (stopping quietly if the reader goes away). */
export async function writeChunks(cid: string, chunks: AsyncIterable<Uint8Array>, input: OutputOptions): Promise<PullResult & {readerGone?: boolean}> {
  const root = cid
  const total = input.total
  let size = 0
  // A local pull can run entirely in microtasks (synchronous block reads and
  // writes): give the event loop a turn every few MiB so SIGINT/SIGTERM (and
  // their temp-file cleanup) are handled promptly.
  let sinceYield = 0
  const yieldSometimes = async (n: number) => {
    sinceYield += n
    if (sinceYield >= YIELD_EVERY_BYTES) {
      sinceYield = 0
      await new Promise((r) => setImmediate(r))
    }
  }
  if (input.output) {
    const out = new AtomicOutput(input.output)
    try {
      for await (const chunk of chunks) {
        await out.write(chunk)
        // Written, or held by the write in flight: a pooled block's slot may go back (util/block-pool.ts).
        releaseBlock(chunk)
        size += chunk.length
        await yieldSometimes(chunk.length)
        input.onProgress?.({bytes: size, total})
      }
      await out.commit()
    } catch (err) {
      await out.discard()
      throw err
    }
    return {cid: root, size, path: input.output}
  }
  const stdout = input.stdout ?? process.stdout
  for await (const chunk of chunks) {
    size += chunk.length
    if (!(await writeOut(stdout, chunk))) return {cid: root, size, readerGone: true}
    releaseBlock(chunk) // writeOut resolved: the stream has handed it on
    await yieldSometimes(chunk.length)
    input.onProgress?.({bytes: size, total})
  }
  return {cid: root, size}
}

/** Writes with back-pressure; false when the reader went away (EPIPE: `polar pull X | head`). */
function writeOut(stream: Writable, chunk: Uint8Array): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' ? resolve(false) : reject(err))
    stream.once('error', onError)
    const ok = stream.write(chunk, (err) => {
      if (!err) {
        stream.off('error', onError)
        if (ok) resolve(true)
      }
    })
    if (!ok) stream.once('drain', () => { stream.off('error', onError); resolve(true) })
  })
}
