import {CID} from 'multiformats/cid'
import {MAX_BLOCK_SIZE} from '../content/constants.js'
import {HttpError} from './http.js'

/** Blocks in one batched put request, and its total size. */
export const MAX_BATCH_BLOCKS = 64
export const MAX_BATCH_BYTES = 32 * 1024 * 1024

/**
 * A batch of blocks on the wire (docs/protocol.md "Block batches"): repeated
 * frames of u16 CID length, CID bytes, u32 data length, data. Lengths are
 * checked before anything is buffered.
 */
export function encodeFrames(blocks: Array<{cid: CID; bytes: Uint8Array}>): Buffer {
  const parts: Buffer[] = []
  for (const {cid, bytes} of blocks) {
    const head = Buffer.allocUnsafe(2)
    head.writeUInt16BE(cid.bytes.length)
    const len = Buffer.allocUnsafe(4)
    len.writeUInt32BE(bytes.length)
    parts.push(head, Buffer.from(cid.bytes), len, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length))
  }
  return Buffer.concat(parts)
}

/**
 * Watches a block batch as it arrives, so that a frame declaring a block over
 * MAX_BLOCK_SIZE (or one block too many) is refused from its header, before
 * its data is buffered (issue 3: "blocks over 2 MiB are refused before they
 * are buffered"). decodeFrames still checks the whole batch afterwards.
 */
export class FrameScanner {
  /** 0: CID length (2 bytes), 1: CID, 2: data length (4 bytes), 3: data. */
  private state = 0
  private need = 2
  private value = 0
  private frames = 0

  push(chunk: Uint8Array): void {
    let i = 0
    while (i < chunk.length) {
      if (this.state === 1 || this.state === 3) {
        const n = Math.min(this.need, chunk.length - i)
        i += n
        this.need -= n
        if (this.need === 0) this.enter(this.state === 1 ? 2 : 0)
        continue
      }
      this.value = this.value * 256 + chunk[i++]
      if (--this.need > 0) continue
      const v = this.value
      if (this.state === 0) {
        if (++this.frames > MAX_BATCH_BLOCKS) throw new HttpError(413, 'TOO_MANY_BLOCKS', `at most ${MAX_BATCH_BLOCKS} blocks per batch`)
        if (v === 0 || v > 128) throw new HttpError(400, 'BAD_FRAME', 'bad CID length in frame')
        this.enter(1, v)
      } else {
        if (v > MAX_BLOCK_SIZE) throw new HttpError(413, 'BLOCK_TOO_LARGE', `a block of ${v} bytes is over the ${MAX_BLOCK_SIZE}-byte limit`)
        if (v === 0) this.enter(0)
        else this.enter(3, v)
      }
    }
  }

  private enter(state: number, need = state === 0 ? 2 : 4): void {
    this.state = state
    this.need = need
    this.value = 0
  }
}

export function decodeFrames(body: Buffer): Array<{cid: CID; bytes: Uint8Array}> {
  const out: Array<{cid: CID; bytes: Uint8Array}> = []
  let off = 0
  while (off < body.length) {
    if (out.length >= MAX_BATCH_BLOCKS) throw new HttpError(413, 'TOO_MANY_BLOCKS', `at most ${MAX_BATCH_BLOCKS} blocks per batch`)
    if (off + 2 > body.length) throw new HttpError(400, 'BAD_FRAME', 'truncated frame header')
    const cidLen = body.readUInt16BE(off)
    off += 2
    if (cidLen === 0 || cidLen > 128 || off + cidLen + 4 > body.length) throw new HttpError(400, 'BAD_FRAME', 'bad CID length in frame')
    let cid: CID
    try {
      cid = CID.decode(body.subarray(off, off + cidLen))
    } catch {
      throw new HttpError(400, 'BAD_CID', 'frame holds a malformed CID')
    }
    off += cidLen
    const len = body.readUInt32BE(off)
    off += 4
    if (len > MAX_BLOCK_SIZE) throw new HttpError(413, 'BLOCK_TOO_LARGE', `block ${cid} is ${len} bytes, over the ${MAX_BLOCK_SIZE}-byte limit`)
    if (off + len > body.length) throw new HttpError(400, 'BAD_FRAME', 'truncated block data')
    out.push({cid, bytes: body.subarray(off, off + len)})
    off += len
  }
  return out
}
