import {varint} from 'multiformats'
import {CodecError} from './errors.js'

/** A growable buffer of unsigned varints (LEB128, multiformats' varint) and bytes. */
export class ByteWriter {
  buf: Uint8Array
  pos = 0
  constructor(size = 1024) {
    this.buf = new Uint8Array(size)
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n))
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
  }

  uint(n: number): void {
    const size = varint.encodingLength(n)
    this.ensure(size)
    varint.encodeTo(n, this.buf, this.pos)
    this.pos += size
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length)
    this.buf.set(b, this.pos)
    this.pos += b.length
  }

  byte(b: number): void {
    this.ensure(1)
    this.buf[this.pos++] = b
  }

  result(): Uint8Array {
    return this.buf.subarray(0, this.pos)
  }
}

/** Reads what ByteWriter wrote; every read is bounds-checked (hostile input). */
export class ByteReader {
  pos = 0
  constructor(readonly buf: Uint8Array) {}

  get done(): boolean {
    return this.pos >= this.buf.length
  }

  uint(max = Number.MAX_SAFE_INTEGER): number {
    if (this.pos >= this.buf.length) throw new CodecError('MALFORMED', 'encoded block ends inside a number')
    let n: number
    let size: number
    try {
      ;[n, size] = varint.decode(this.buf, this.pos)
    } catch {
      throw new CodecError('MALFORMED', 'encoded block ends inside a number, or has one longer than 8 bytes')
    }
    if (size > 8) throw new CodecError('MALFORMED', 'encoded block has a number longer than 8 bytes')
    this.pos += size
    if (n > max) throw new CodecError('MALFORMED', `encoded block has a value ${n} over its limit ${max}`)
    return n
  }

  byte(): number {
    if (this.pos >= this.buf.length) throw new CodecError('MALFORMED', 'encoded block is empty or truncated')
    return this.buf[this.pos++]
  }

  bytes(n: number): Uint8Array {
    if (n > this.buf.length - this.pos) throw new CodecError('MALFORMED', `encoded block ends ${n - (this.buf.length - this.pos)} byte(s) early`)
    const out = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return out
  }

  rest(): Uint8Array {
    const out = this.buf.subarray(this.pos)
    this.pos = this.buf.length
    return out
  }
}
