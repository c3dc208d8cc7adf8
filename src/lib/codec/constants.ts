/**
 * Block codecs (Planet draft 003, "Block protocol" and "Denial of service").
 * A block's CID is always the hash of its decoded bytes; a codec only changes
 * how the bytes are stored and sent.
 */
import {MAX_BLOCK_SIZE} from '../content/constants.js'

/** Codec numbers: the first byte of an encoded block, and the `blocks.codec` column. */
export const CODEC_RAW = 0
export const CODEC_GZIP = 1
export const CODEC_DELTA = 2
/** Delta with gzip stacked on top (the draft: compression on top of delta-encoding compresses better). */
export const CODEC_DELTA_GZIP = 3

export type CodecName = 'raw' | 'gzip' | 'delta' | 'delta+gzip'
export const CODEC_NAMES: Record<number, CodecName> = {0: 'raw', 1: 'gzip', 2: 'delta', 3: 'delta+gzip'}

/** No block decodes to more than this (DESIGN.md "Content"): checked before unpacking anything. */
export const MAX_DECODED_SIZE = MAX_BLOCK_SIZE
/**
 * Inflate may not expand more than this many times. Deflate's own ceiling is
 * about 1032:1, so a bomb made of zeros is refused from its lengths alone;
 * real data (text, logs, delta scripts) stays far below. The encoder keeps a
 * block raw rather than write a gzip past this ratio.
 */
export const MAX_INFLATE_RATIO = 256
/** Output produced by the inflater between two checks of the running total (zlib chunkSize): a bomb costs at most this past the declared length. */
export const INFLATE_CHUNK = 64 * 1024
/**
 * Longest base chain: a delta whose bases are deltas themselves, and so on.
 * Storing a block deeper than this stores it whole instead (the draft's
 * "prune"); decoding refuses anything deeper.
 */
export const MAX_DELTA_DEPTH = 12
/** At most this many bases per delta block. */
export const MAX_DELTA_BASES = 16
/** An encoding is kept only when it is at most this fraction of the raw size. */
export const MIN_SAVING = 0.95

/** True for the delta codecs (they need bases). */
export function isDelta(codec: number): boolean {
  return codec === CODEC_DELTA || codec === CODEC_DELTA_GZIP
}
