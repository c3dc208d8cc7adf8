import {readSync} from 'node:fs'
import {crc32} from 'node:zlib'
import {CID} from 'multiformats/cid'

/**
 * Pack manifests: what makes a pack readable without polar.db (issue 20,
 * point 2). Blocks sit in a pack back to back with no framing, so their
 * boundaries live only in the index. Every checkpoint therefore appends, after
 * the blocks it commits and before its fdatasync, one manifest frame listing
 * them (CID, offset, stored length, codec). The frame is inside the committed
 * size, so it is as durable as the blocks it names. `polar repair` walks the
 * frames back from the end of a pack (each one says where its region began:
 * the end of the frame before it) and hashes every block they list.
 *
 * Frame, little-endian:
 *   magic "PLRMANI1" (8) | frameLength u32 | regionStart u64 | count u32 |
 *   count × (offset u64 | length u32 | codec u8 | cidLength u8 | cid) |
 *   frameLength u32 | crc32 of everything before it u32 | end magic "1INAMRLP" (8)
 * The length at both ends lets a reader find a frame from either end.
 */

export const FRAME_MAGIC = Buffer.from('PLRMANI1', 'latin1')
export const FRAME_END_MAGIC = Buffer.from('1INAMRLP', 'latin1')
const HEAD = 8 + 4 + 8 + 4
const TAIL = 4 + 4 + 8
/** A frame names at most this many blocks (a 64 MiB checkpoint of 4 KiB blocks is 16384). */
const MAX_ENTRIES = 1 << 20
const MAX_FRAME = HEAD + TAIL + MAX_ENTRIES * (8 + 4 + 2 + 64)

export interface ManifestEntry {
  cid: Uint8Array
  offset: number
  length: number
  codec: number
}

export interface Frame {
  /** Where the frame starts and ends in the pack. */
  start: number
  end: number
  /** The committed size when its checkpoint began: the end of the frame before it (0 for the first). */
  regionStart: number
  entries: ManifestEntry[]
}

/** The length of a frame naming blocks with CIDs of these byte lengths. */
export function frameLength(cidLengths: number[]): number {
  return HEAD + TAIL + cidLengths.reduce((n, l) => n + 14 + l, 0)
}

/** The bytes of one frame for `entries`, committed on top of `regionStart`. */
export function encodeFrame(regionStart: number, entries: ManifestEntry[]): Buffer {
  const size = frameLength(entries.map((e) => e.cid.length))
  const buf = Buffer.allocUnsafe(size)
  FRAME_MAGIC.copy(buf, 0)
  buf.writeUInt32LE(size, 8)
  buf.writeBigUInt64LE(BigInt(regionStart), 12)
  buf.writeUInt32LE(entries.length, 20)
  let at = HEAD
  for (const e of entries) {
    buf.writeBigUInt64LE(BigInt(e.offset), at)
    buf.writeUInt32LE(e.length, at + 8)
    buf[at + 12] = e.codec
    buf[at + 13] = e.cid.length
    buf.set(e.cid, at + 14)
    at += 14 + e.cid.length
  }
  buf.writeUInt32LE(size, at)
  buf.writeUInt32LE(crc32(buf.subarray(0, at + 4)), at + 4)
  FRAME_END_MAGIC.copy(buf, at + 8)
  return buf
}

/** Parses a frame occupying exactly `bytes` found at `start`; undefined when it is not a whole, intact frame. */
export function decodeFrame(bytes: Uint8Array, start: number): Frame | undefined {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (buf.length < HEAD + TAIL || !buf.subarray(0, 8).equals(FRAME_MAGIC) || !buf.subarray(buf.length - 8).equals(FRAME_END_MAGIC)) return undefined
  const at = buf.length - TAIL
  if (buf.readUInt32LE(8) !== buf.length || buf.readUInt32LE(at) !== buf.length || buf.readUInt32LE(at + 4) !== crc32(buf.subarray(0, at + 4))) return undefined
  const regionStart = Number(buf.readBigUInt64LE(12))
  const count = buf.readUInt32LE(20)
  if (regionStart > start || count > MAX_ENTRIES) return undefined
  const entries: ManifestEntry[] = []
  let p = HEAD
  for (let i = 0; i < count; i++) {
    if (p + 14 > at) return undefined
    const offset = Number(buf.readBigUInt64LE(p))
    const length = buf.readUInt32LE(p + 8)
    const codec = buf[p + 12]
    const n = buf[p + 13]
    if (p + 14 + n > at || offset < regionStart || offset + length > start) return undefined
    entries.push({cid: new Uint8Array(buf.subarray(p + 14, p + 14 + n)), offset, length, codec})
    p += 14 + n
  }
  if (p !== at) return undefined
  return {start, end: start + buf.length, regionStart, entries}
}

function readAt(fd: number, pos: number, len: number): Buffer {
  const buf = Buffer.allocUnsafe(len)
  let got = 0
  while (got < len) {
    const n = readSync(fd, buf, got, len - got, pos + got)
    if (n === 0) break
    got += n
  }
  return buf.subarray(0, got)
}

/** The frame that ends exactly at `end`, if there is an intact one. */
export function frameEndingAt(fd: number, end: number): Frame | undefined {
  if (end < HEAD + TAIL) return undefined
  const tail = readAt(fd, end - TAIL, TAIL)
  if (tail.length < TAIL || !tail.subarray(8).equals(FRAME_END_MAGIC)) return undefined
  const len = tail.readUInt32LE(0)
  if (len < HEAD + TAIL || len > end || len > MAX_FRAME) return undefined
  return decodeFrame(readAt(fd, end - len, len), end - len)
}

const SCAN_CHUNK = 8 * 1024 * 1024

/**
 * The last intact frame at or before `limit`: the end magic is searched for
 * backwards (past crash garbage or a direct write's padding), each hit checked
 * whole (length, crc, magic at both ends).
 */
export function lastFrame(fd: number, limit: number): Frame | undefined {
  // The usual case: the pack ends with its last checkpoint's frame.
  const atEnd = frameEndingAt(fd, limit)
  if (atEnd) return atEnd
  let hi = limit
  while (hi > 0) {
    const lo = Math.max(0, hi - SCAN_CHUNK)
    // Overlap by a magic's length so a magic across the chunk edge is seen.
    const chunk = readAt(fd, lo, Math.min(limit, hi + FRAME_END_MAGIC.length - 1) - lo)
    let i = chunk.length
    while ((i = chunk.lastIndexOf(FRAME_END_MAGIC, i - 1)) >= 0) {
      const frame = frameEndingAt(fd, lo + i + FRAME_END_MAGIC.length)
      if (frame) return frame
      if (i === 0) break
    }
    hi = lo
  }
  return undefined
}

/** Every intact frame starting in [from, to), in order (the slow path, when the chain back is broken). */
export function scanFrames(fd: number, from: number, to: number): Frame[] {
  const out: Frame[] = []
  let pos = from
  while (pos < to) {
    const chunk = readAt(fd, pos, Math.min(SCAN_CHUNK, to - pos) + FRAME_MAGIC.length - 1)
    if (chunk.length < FRAME_MAGIC.length) break
    let next = pos + Math.max(1, chunk.length - FRAME_MAGIC.length + 1)
    let i = -1
    while ((i = chunk.indexOf(FRAME_MAGIC, i + 1)) >= 0 && pos + i < to) {
      const head = readAt(fd, pos + i, HEAD)
      if (head.length < HEAD) continue
      const len = head.readUInt32LE(8)
      if (len < HEAD + TAIL || len > MAX_FRAME) continue
      const frame = decodeFrame(readAt(fd, pos + i, len), pos + i)
      if (!frame) continue
      out.push(frame)
      if (frame.end >= pos + chunk.length) {
        next = frame.end
        break
      }
      i = frame.end - pos - 1
    }
    pos = next
  }
  return out
}

/**
 * The frames of a pack that end at or before `limit`, oldest first, and where
 * the framed part begins: walked back from the last frame through each
 * frame's regionStart; where the chain stops short of `stopAt` (a damaged
 * frame, or bytes written before packs had manifests) the rest is scanned
 * forward. `unframed` is the start of the part no frame covers ([0, unframed)
 * when the pack began before manifests).
 */
export function readFrames(fd: number, limit: number, stopAt = 0): {frames: Frame[]; unframed: number} {
  const frames: Frame[] = []
  let frame = lastFrame(fd, limit)
  while (frame) {
    frames.push(frame)
    if (frame.regionStart <= stopAt) break
    const before = frameEndingAt(fd, frame.regionStart)
    if (!before) {
      // The chain is broken at regionStart: find what frames remain below it the slow way.
      const rest = scanFrames(fd, stopAt, frame.regionStart).filter((f) => f.end <= frame!.regionStart)
      frames.push(...rest.reverse())
      break
    }
    frame = before
  }
  frames.reverse()
  const first = frames[0]
  return {frames, unframed: first ? first.regionStart : limit}
}

/** CID of a manifest entry, or undefined when its bytes are not a CID. */
export function entryCid(e: ManifestEntry): CID | undefined {
  try {
    return CID.decode(e.cid)
  } catch {
    return undefined
  }
}
