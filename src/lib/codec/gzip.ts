import {constants as zc, gzipSync as zlibGzip} from 'node:zlib'
import {Gunzip} from 'fflate'
import {INFLATE_STEP, MAX_DECODED_SIZE, MAX_INFLATE_RATIO} from './constants.js'
import {CodecError} from './errors.js'

/** Bytes sampled to judge whether a block is worth compressing (random data is skipped cheaply). */
export const GZIP_SAMPLE = 16 * 1024

/**
 * gzip (RFC 1952). Compression uses node's native zlib at a fast level (it is
 * on the push path); decompression uses fflate in small steps with a hard
 * output cap (gunzipBounded), since nothing that arrives is trusted.
 */
export function gzip(bytes: Uint8Array, level = 3): Uint8Array {
  return zlibGzip(bytes, {level, strategy: zc.Z_DEFAULT_STRATEGY})
}

/** A quick look: does a sample of `bytes` compress to at most `ratio` of itself? */
export function looksCompressible(bytes: Uint8Array, ratio = 0.9): boolean {
  if (bytes.length < 64) return false
  const start = bytes.length > GZIP_SAMPLE ? (bytes.length - GZIP_SAMPLE) >> 1 : 0
  const sample = bytes.subarray(start, start + GZIP_SAMPLE)
  return zlibGzip(sample, {level: 1}).length <= sample.length * ratio
}

/**
 * Inflates `data`, which must decode to exactly `expected` bytes. Checked
 * before unpacking: `expected` against the block limit and the inflate
 * ratio. While inflating, output is counted after every INFLATE_STEP of
 * input and the work stops at `expected`, whatever the gzip footer claims
 * (fflate has no output cap of its own). Memory: `expected` plus one step.
 */
export function gunzipBounded(data: Uint8Array, expected: number, limit = MAX_DECODED_SIZE): Uint8Array {
  if (!Number.isSafeInteger(expected) || expected < 0 || expected > limit) throw new CodecError(`gzip block declares ${expected} bytes, over the ${limit}-byte limit`)
  if (data.length < 18) throw new CodecError('gzip block is shorter than a gzip header and footer')
  if (expected > data.length * MAX_INFLATE_RATIO) throw new CodecError(`gzip block would inflate ${data.length} bytes to ${expected} (over ${MAX_INFLATE_RATIO}:1): refused as a bomb`)
  const out = new Uint8Array(expected)
  let got = 0
  let ended = false
  const gunzip = new Gunzip((chunk, final) => {
    if (got + chunk.length > expected) throw new CodecError(`gzip block inflates past its declared ${expected} bytes: refused as a bomb`)
    out.set(chunk, got)
    got += chunk.length
    if (final) ended = true
  })
  // One gzip member only: a second one would be appended data the length never covered.
  gunzip.onmember = () => { throw new CodecError('gzip block holds more than one gzip member') }
  try {
    for (let off = 0; off < data.length; off += INFLATE_STEP) {
      const end = Math.min(off + INFLATE_STEP, data.length)
      gunzip.push(data.subarray(off, end), end === data.length)
    }
  } catch (err) {
    if (err instanceof CodecError) throw err
    throw new CodecError(`gzip block does not inflate: ${(err as Error).message}`)
  }
  if (got !== expected || !ended) throw new CodecError(`gzip block inflates to ${got} bytes, not the ${expected} it declares`)
  return out
}
