import type {Writable} from 'node:stream'
import {InputError} from '../errors.js'
import {AtomicOutput} from './atomic-output.js'
import {releaseBlock} from './block-pool.js'
import {DirectOutput, writeOut} from './direct-output.js'
import {outputTarget} from './output-target.js'

/** A local pull can run entirely in microtasks: yield to the event loop this often (signals, cleanup). */
const YIELD_EVERY_BYTES = 4 * 1024 * 1024

export interface OutputOptions {
  /** Write here (output-target.ts: a file atomically, a FIFO or device straight into); otherwise to `stdout`. */
  output?: string
  stdout?: Writable
  /** Write to a terminal even when the object looks binary (`pull --force`). */
  force?: boolean
  total?: number
  /** Stops waiting for a FIFO's reader. */
  signal?: AbortSignal
  onProgress?: (event: {bytes: number; total?: number}) => void
}

export interface PullResult {
  cid: string
  size: number
  path?: string
}

/**
 * Writes verified chunks to `-o` or to stdout, stopping quietly if the reader
 * goes away. `-o` follows output-target.ts: a regular file appears complete
 * or not at all, a FIFO or device is written into and never replaced.
 */
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
    const target = outputTarget(input.output)
    const out = target.kind === 'file' ? new AtomicOutput(target.path) : await DirectOutput.open(target.path, target.kind, input.signal)
    try {
      for await (const chunk of chunks) {
        if ((await out.write(chunk)) === false) break // a FIFO's reader went away
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
    const readerGone = out instanceof DirectOutput && out.readerGone
    return {cid: root, size, path: input.output, ...(readerGone ? {readerGone} : {})}
  }
  const stdout = input.stdout ?? process.stdout
  let first = true
  for await (const chunk of chunks) {
    if (first) {
      first = false
      if (!input.force && (stdout as {isTTY?: boolean}).isTTY && looksBinary(chunk)) throw binaryToTerminal(root)
    }
    size += chunk.length
    if (!(await writeOut(stdout, chunk))) return {cid: root, size, readerGone: true}
    releaseBlock(chunk) // writeOut resolved: the stream has handed it on
    await yieldSometimes(chunk.length)
    input.onProgress?.({bytes: size, total})
  }
  return {cid: root, size}
}

/**
 * curl's test before it refuses "Binary output can mess up your terminal": a
 * NUL byte in the first piece of the body. Text in any ASCII-compatible
 * encoding has none; images, archives and compressed data nearly always do
 * within the first block (1 MiB).
 */
function looksBinary(chunk: Uint8Array): boolean {
  return chunk.indexOf(0) !== -1
}

function binaryToTerminal(cid: string): InputError {
  return new InputError(`${cid} is binary data and stdout is a terminal, which it could garble; write it to a file (-o FILE), pipe it (| less, > FILE), or pass --force to print it anyway`, {code: 'USAGE'})
}
