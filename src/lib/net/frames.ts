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
