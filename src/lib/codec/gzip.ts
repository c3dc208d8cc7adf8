import {constants as zc, gunzipSync as zlibGunzip, gzipSync as zlibGzip} from 'node:zlib'
import {INFLATE_CHUNK, MAX_DECODED_SIZE, MAX_INFLATE_RATIO} from './constants.js'
import {CodecError} from './errors.js'

/** Bytes sampled to judge whether a block is worth compressing (random data is skipped cheaply). */
export const GZIP_SAMPLE = 16 * 1024

/**
 * gzip (RFC 1952), with node's native zlib: compression at a fast level (it
 * is on the push path), decompression with a hard output cap
 * (gunzipBounded), since nothing that arrives is trusted.
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
 * ratio. While inflating, node's zlib counts the output after every
 * INFLATE_CHUNK it produces and stops as soon as the total would pass
 * `expected` (maxOutputLength), whatever the gzip footer claims. Memory:
 * `expected` plus one chunk. (fflate, tried first with a counting ondata fed
 * 1 KiB at a time, was 10x slower on every gzip-stored block read: ~80 MiB/s
 * against ~800 MiB/s.)
 */
export function gunzipBounded(data: Uint8Array, expected: number, limit = MAX_DECODED_SIZE): Uint8Array {
  if (!Number.isSafeInteger(expected) || expected < 0 || expected > limit) throw new CodecError('TOO_LARGE', `gzip block declares ${expected} bytes, over the ${limit}-byte limit`)
  if (data.length < 18) throw new CodecError('MALFORMED', 'gzip block is shorter than a gzip header and footer')
  if (expected > data.length * MAX_INFLATE_RATIO) throw new CodecError('BOMB', `gzip block would inflate ${data.length} bytes to ${expected} (over ${MAX_INFLATE_RATIO}:1): refused as a bomb`)
  let out: Buffer
  try {
    out = zlibGunzip(data, {maxOutputLength: Math.max(1, expected), chunkSize: INFLATE_CHUNK})
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new CodecError('BOMB', `gzip block inflates past its declared ${expected} bytes: refused as a bomb`)
    throw new CodecError('MALFORMED', `gzip block does not inflate: ${(err as Error).message}`)
  }
  if (out.length !== expected) throw new CodecError('SHORT', `gzip block inflates to ${out.length} bytes, not the ${expected} it declares`)
  return out
}
