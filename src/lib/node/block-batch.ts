import {CID} from 'multiformats/cid'
import {blockMatches} from '../content/cid.js'
import {MAX_BLOCK_SIZE} from '../content/constants.js'
import {MAX_BATCH_BLOCKS, MAX_BATCH_BYTES} from '../net/frames.js'
import {drained, HttpError, writeInPieces} from '../net/http.js'
import type {BlockStore} from '../store/block-store.js'
import type {ServerResponse} from 'node:http'

/** Checks a `POST /v1/blocks/get` body: {cids: [≤ 64 CID strings]}. */
export function checkBatchRequest(v: any): CID[] {
  if (!Array.isArray(v?.cids) || v.cids.length === 0 || v.cids.length > MAX_BATCH_BLOCKS || !v.cids.every((c: unknown) => typeof c === 'string' && c.length <= 200)) {
    throw new Error(`expected {"cids": [string, …]} with 1 to ${MAX_BATCH_BLOCKS} CIDs`)
  }
  return v.cids.map((c: string) => {
    try {
      return CID.parse(c)
    } catch {
      throw new HttpError(400, 'BAD_CID', `malformed CID ${JSON.stringify(c.slice(0, 80))}`)
    }
  })
}

/** One frame of an answer: a block and its data length; an encoded block's bytes are decoded (and verified) when it is planned. */
interface PlannedFrame {
  cid: CID
  length: number
  decoded?: Uint8Array
}

/**
 * Encoded blocks (gzip, delta) are decoded when the answer is planned, to
 * know their length: at most this many decoded bytes are held for one
 * answer; the blocks past it are left out (the asker takes them singly).
 */
export const MAX_DECODED_PER_ANSWER = 4 * 1024 * 1024

/**
 * Bytes an answer may have queued in node (not yet taken by the kernel)
 * before the next block is read: one connection that does not read holds at
 * most this plus one frame (issue 20 point 8).
 */
export const ANSWER_QUEUE_BYTES = 1024 * 1024

/**
 * Which of `cids` the answer holds, in the order asked, and its length: absent
 * blocks are left out, and so is a block its index says is over
 * MAX_BLOCK_SIZE (a damaged index: the asker would refuse the whole batch),
 * everything past MAX_BATCH_BYTES (the asker asks again) and encoded blocks
 * past MAX_DECODED_PER_ANSWER.
 */
export function planBlockBatch(blocks: BlockStore, cids: CID[], onDamaged: (cid: CID) => void): {frames: PlannedFrame[]; size: number} {
  const frames: PlannedFrame[] = []
  let size = 0
  let decodedBytes = 0
  for (const cid of cids) {
    const loc = blocks.locate(cid)
    if (!loc) continue
    if (loc.length > MAX_BLOCK_SIZE) {
      onDamaged(cid)
      continue
    }
    let decoded: Uint8Array | undefined
    if (loc.codec !== 0) {
      try {
        decoded = blocks.get(cid)
      } catch {
        onDamaged(cid)
        continue
      }
      if (decodedBytes + decoded.length > MAX_DECODED_PER_ANSWER) break
      decodedBytes += decoded.length
    }
    const length = decoded ? decoded.length : loc.length
    const frame = 2 + cid.bytes.length + 4 + length
    if (size + frame > MAX_BATCH_BYTES) break
    frames.push({cid, length, decoded})
    size += frame
  }
  return {frames, size}
}

/**
 * Raw blocks an answer reads ahead of the one it sends: the reads go through
 * the thread pool (store/pack-reader.ts), so the disk sees a few at once and
 * the event loop none (issue 15 point 1). Each holds one frame buffer, so an
 * answer holds at most ANSWER_QUEUE_BYTES plus this many frames.
 */
export const READ_AHEAD = 4

/**
 * Writes the answer to `POST /v1/blocks/get` (docs/protocol.md "Block
 * batches"): the planned frames, streamed one block at a time with
 * back-pressure, so that an answer holds at most ANSWER_QUEUE_BYTES plus
 * READ_AHEAD frames in memory however slowly it is read (issue 20 point 8:
 * built whole, answers nobody read grew the node by gigabytes). It always
 * carries a Content-Length (src/lib/net/peer/bulk.ts reads nothing else).
 *
 * Raw blocks are read from their packs through the thread pool, READ_AHEAD
 * frames ahead and in order (issue 15: a readSync per block held the event
 * loop for the whole disk read, and packs written with O_DIRECT are not in
 * the page cache). Each is hash-checked on this thread right before it is
 * sent. A block that fails the check before anything was sent is left out
 * (the header goes with the first good block); one that fails once the
 * answer has started (its length is already declared) cuts the answer off:
 * the connection is closed, and the asker takes those blocks singly. Either
 * way, no damaged byte is sent. A block is located again when its read
 * starts: it may have moved or gone (compaction, erase) since it was planned.
 */
export async function sendBlockBatch(res: ServerResponse, blocks: BlockStore, cids: CID[], onDamaged: (cid: CID) => void): Promise<void> {
  const plan = planBlockBatch(blocks, cids, onDamaged)
  let size = plan.size
  let started = false
  const reads: Array<Promise<FrameRead>> = []
  let next = 0
  const topUp = () => {
    while (next < plan.frames.length && reads.length < READ_AHEAD) reads.push(readFrame(blocks, plan.frames[next++]))
  }
  topUp()
  while (reads.length > 0) {
    if (started && res.writableLength >= ANSWER_QUEUE_BYTES && !(await drained(res))) return
    if (res.destroyed) return
    const r = await reads.shift()!
    topUp()
    const ok = r.state === 'decoded' || (r.state === 'read' && blockMatches(r.frame.cid, r.buf.subarray(r.head, r.n)))
    if (!ok && r.state !== 'gone') onDamaged(r.frame.cid) // gone or stored otherwise since it was planned: not damage, just not sent
    if (!ok) {
      frameBuffers.give(r.buf)
      if (started) {
        res.destroy() // its length was promised: cut off rather than send a damaged byte
        return
      }
      size -= r.n
      continue
    }
    if (res.destroyed) return
    if (!started) {
      res.writeHead(200, {'content-type': 'application/vnd.polar.blocks', 'content-length': size})
      started = true
    }
    writeInPieces(res, r.buf.subarray(0, r.n), () => frameBuffers.give(r.buf))
  }
  if (!started) res.writeHead(200, {'content-type': 'application/vnd.polar.blocks', 'content-length': 0})
  res.end()
}

/** A frame with its block read into it (or why not): `read` still needs its hash check; decoded blocks were verified when planned. */
interface FrameRead {
  frame: PlannedFrame
  buf: Buffer
  head: number
  n: number
  state: 'read' | 'decoded' | 'gone' | 'failed'
}

async function readFrame(blocks: BlockStore, f: PlannedFrame): Promise<FrameRead> {
  const head = 2 + f.cid.bytes.length + 4
  const n = head + f.length
  const buf = frameBuffers.take(n)
  buf.writeUInt16BE(f.cid.bytes.length, 0)
  buf.set(f.cid.bytes, 2)
  buf.writeUInt32BE(f.length, head - 4)
  if (f.decoded) {
    buf.set(f.decoded, head)
    return {frame: f, buf, head, n, state: 'decoded'}
  }
  const loc = blocks.locate(f.cid)
  if (!loc || loc.codec !== 0 || loc.length !== f.length) return {frame: f, buf, head, n, state: 'gone'}
  try {
    await blocks.readIntoAsync(loc, buf, head)
    return {frame: f, buf, head, n, state: 'read'}
  } catch {
    return {frame: f, buf, head, n, state: 'failed'}
  }
}

/**
 * Frame memory, reused: a fresh allocation for every 1 MiB block costs page
 * faults and GC work on every request. A buffer comes back only once its
 * frame has been handed to the kernel completely; one whose answer was cut
 * off is left to the GC. At most `keep` idle buffers are held.
 */
export class FrameBuffers {
  private free: Buffer[] = []
  constructor(private readonly keep = 8, private readonly size = MAX_BLOCK_SIZE + 2 + 128 + 4) {}

  take(n: number): Buffer {
    if (n > this.size) return Buffer.allocUnsafeSlow(n)
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.size)
  }

  give(buf: Buffer): void {
    if (buf.length === this.size && this.free.length < this.keep) this.free.push(buf)
  }
}

const frameBuffers = new FrameBuffers()
