import {createHash, type Hash} from 'node:crypto'
import {CID} from 'multiformats/cid'
import {MAX_BLOCK_SIZE, SHA2_256_CODE} from '../../content/constants.js'
import {IntegrityError} from '../../errors.js'
import {MAX_BATCH_BLOCKS} from '../frames.js'

/**
 * One block of a framed answer. `sha256`: the sha-256 of `bytes`, computed
 * piece by piece as they arrived (each piece right after the kernel copied it
 * in, while it is in the CPU cache: about twice as fast as hashing the block
 * afterwards), for blocks whose CID names sha2-256. The caller compares it
 * with the CID: nothing here is verified.
 */
export interface BulkFrame {
  cid: CID
  bytes: Buffer
  sha256?: Uint8Array
}

/**
 * Reads a framed 200 answer (docs/protocol.md "Block batches") of a declared
 * length as the socket delivers it, for the bulk client (bulk.ts): the socket
 * reads into target() — exactly the rest of the current part, a frame head
 * or a block's data — so each block lands in its own `alloc(length, cid)`
 * memory, and got(n) moves on. Checked as it comes: at most
 * MAX_BATCH_BLOCKS frames, none over MAX_BLOCK_SIZE, CIDs that parse, no
 * frame past the end; each sha2-256 block hashed as it arrives. `done` is
 * called once: with an error, or with none when the last frame is complete.
 */
export class FrameReader {
  readonly frames: BulkFrame[] = []
  /** The current block's hash so far (sha2-256 CIDs). */
  private hasher: Hash | undefined
  /** Bytes of the answer not yet read. */
  private left: number
  private readonly fhead = Buffer.allocUnsafe(2 + 128 + 4)
  private part: 'len' | 'cid' | 'data' = 'len'
  /** `need` bytes of the current part go to `into` at `at` (a frame head in fhead, or a block's data). */
  private into: Buffer = this.fhead
  private at = 0
  private need = 2
  private cidLen = 0
  private ended = false

  /** `length`: the answer's declared length, at least 2 (the caller settles an empty or 1-byte answer itself). */
  constructor(private readonly where: string, length: number, private readonly alloc: (size: number, cid: CID) => Buffer, private readonly done: (err?: Error) => void) {
    this.left = length
  }

  /** Where the next bytes of the answer go. */
  target(): Buffer {
    return this.into.subarray(this.at, this.at + this.need)
  }

  /** Bytes that came with the answer's head: fed through part by part. */
  feed(bytes: Buffer): void {
    let off = 0
    while (off < bytes.length && !this.ended) {
      const n = Math.min(this.need, bytes.length - off)
      bytes.copy(this.into, this.at, off, off + n)
      off += n
      this.got(n)
    }
  }

  /** `n` more bytes arrived at target(); moves to the next part when this one is complete. */
  got(n: number): void {
    if (this.hasher) this.hasher.update(this.into.subarray(this.at, this.at + n))
    this.at += n
    this.need -= n
    this.left -= n
    if (this.need > 0) return
    if (this.hasher) {
      this.frames[this.frames.length - 1].sha256 = this.hasher.digest()
      this.hasher = undefined
    }
    const where = this.where
    if (this.part === 'len') {
      this.cidLen = this.fhead.readUInt16BE(0)
      if (this.cidLen === 0 || this.cidLen > 128) return this.end(new IntegrityError(`${where}: bad CID length in a block frame`))
      if (this.frames.length >= MAX_BATCH_BLOCKS) return this.end(new IntegrityError(`${where}: more than ${MAX_BATCH_BLOCKS} blocks in a batch`))
      if (this.cidLen + 4 > this.left) return this.end(new IntegrityError(`${where}: truncated block frame`))
      this.part = 'cid'
      this.need = this.cidLen + 4
      return
    }
    if (this.part === 'cid') {
      const length = this.fhead.readUInt32BE(2 + this.cidLen)
      let cid: CID
      try {
        // A copy: CID.decode keeps the bytes it is given, and fhead is reused for the next frame.
        cid = CID.decode(Uint8Array.prototype.slice.call(this.fhead, 2, 2 + this.cidLen))
      } catch {
        return this.end(new IntegrityError(`${where}: a block frame holds a malformed CID`))
      }
      // Refused from the frame head, before a byte of it is buffered.
      if (length > MAX_BLOCK_SIZE) return this.end(new IntegrityError(`${where}: block ${cid} is ${length} bytes, over the ${MAX_BLOCK_SIZE}-byte limit`))
      if (length > this.left) return this.end(new IntegrityError(`${where}: block ${cid} runs past the end of the answer`))
      const bytes = this.alloc(length, cid)
      // The digest covers exactly `length` bytes: memory of another size would let bytes through unhashed.
      if (bytes.length !== length) return this.end(new Error(`frames.alloc gave ${bytes.length} bytes for a ${length}-byte block`))
      this.frames.push({cid, bytes})
      if (length > 0) {
        if (cid.multihash.code === SHA2_256_CODE) this.hasher = createHash('sha256')
        this.part = 'data'
        this.into = bytes
        this.at = 0
        this.need = length
        return
      }
    }
    // A frame is complete: the next one starts (or the answer ends).
    if (this.left === 0) return this.end()
    if (this.left < 2) return this.end(new IntegrityError(`${where}: truncated block frame`))
    this.part = 'len'
    this.into = this.fhead
    this.at = 0
    this.need = 2
  }

  private end(err?: Error): void {
    if (this.ended) return
    this.ended = true
    this.done(err)
  }
}
