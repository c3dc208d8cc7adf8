import {CID} from 'multiformats/cid'
import {blockMatches} from '../content/cid.js'
import {CODEC_DELTA, CODEC_DELTA_GZIP, CODEC_GZIP, CODEC_NAMES, CODEC_RAW, isDelta, MAX_DECODED_SIZE, MAX_DELTA_BASES, MAX_DELTA_DEPTH, MAX_INFLATE_RATIO, MIN_SAVING} from './constants.js'
import {applyDelta} from './delta.js'
import {CodecError} from './errors.js'
import {gunzipBounded, gzip, looksCompressible} from './gzip.js'
import {ByteReader, ByteWriter} from './varint.js'

/**
 * An encoded block, as stored (codec ≠ raw) and as sent in dynamic block mode:
 *
 *   codec:u8  length:varint                      decoded length, ≤ 2 MiB
 *   [delta]   nbases:varint (cidlen:varint cid)…  the bases, before any compressed part,
 *                                                 so they are checked before unpacking
 *   raw        the bytes
 *   gzip       gzip(bytes)
 *   delta      script (delta.ts)
 *   delta+gzip scriptlen:varint gzip(script)      scriptlen < length
 */
export interface EncodedHeader {
  codec: number
  /** Decoded length, as declared. */
  length: number
  bases: CID[]
  /** What follows the header: bytes, gzip data or script. */
  body: Uint8Array
  /** delta+gzip: the script's length after inflating. */
  scriptLength: number
}

/** Parses and checks the header only: lengths against the limits, bases as CIDs, before anything is unpacked. */
export function parseEncoded(encoded: Uint8Array, limit = MAX_DECODED_SIZE): EncodedHeader {
  const r = new ByteReader(encoded)
  const codec = r.byte()
  if (!(codec in CODEC_NAMES)) throw new CodecError('MALFORMED', `unknown block codec ${codec}`)
  if (codec === CODEC_RAW) {
    const body = r.rest()
    if (body.length > limit) throw new CodecError('TOO_LARGE', `raw block of ${body.length} bytes is over the ${limit}-byte limit`)
    return {codec, length: body.length, bases: [], body, scriptLength: 0}
  }
  const length = r.uint()
  if (length > limit) throw new CodecError('TOO_LARGE', `encoded block declares ${length} decoded bytes, over the ${limit}-byte limit`)
  const bases: CID[] = []
  let scriptLength = 0
  if (isDelta(codec)) {
    const n = r.uint()
    if (n < 1 || n > MAX_DELTA_BASES) throw new CodecError('MALFORMED', `delta block names ${n} bases (1 to ${MAX_DELTA_BASES} allowed)`)
    for (let i = 0; i < n; i++) {
      const bytes = r.bytes(r.uint(128))
      try {
        bases.push(CID.decode(bytes))
      } catch {
        throw new CodecError('MALFORMED', 'delta block names a base that is not a CID')
      }
    }
    if (codec === CODEC_DELTA_GZIP) {
      scriptLength = r.uint()
      // An honest encoder only stacks a script smaller than the block it builds.
      if (scriptLength > length + 64) throw new CodecError('BOMB', `delta script of ${scriptLength} bytes for a ${length}-byte block`)
    }
  }
  const body = r.rest()
  if (codec === CODEC_DELTA && body.length > length + 64) throw new CodecError('BOMB', `delta script of ${body.length} bytes for a ${length}-byte block`)
  return {codec, length, bases, body, scriptLength}
}

/** How an encoded block is stored and indexed (blocks.codec, blocks.depth, block_bases): its codec, its delta depth and the bases it needs. */
export interface Encoding {
  codec: number
  depth: number
  bases: CID[]
}

/** Resolves a base to its decoded bytes; `depthLeft` is how many more delta levels the base may use. */
export type BaseResolver = (base: CID, depthLeft: number) => Uint8Array

/**
 * Decodes an encoded block and verifies it against `cid` (draft 003, "Denial
 * of service": check declared length before unpacking; verify the hash of the
 * unpacked content). Bases come from `resolve`; a delta may be at most
 * `depthLeft` levels deep. Throws CodecError on anything hostile.
 */
export function decodeBlock(cid: CID, encoded: Uint8Array, resolve: BaseResolver, depthLeft = MAX_DELTA_DEPTH, limit = MAX_DECODED_SIZE, options: {verify?: boolean} = {}): Uint8Array {
  const h = parseEncoded(encoded, limit)
  let out: Uint8Array
  if (h.codec === CODEC_RAW) out = h.body
  else if (h.codec === CODEC_GZIP) out = gunzipBounded(h.body, h.length, limit)
  else {
    if (depthLeft <= 0) throw new CodecError('TOO_DEEP', `delta block ${cid} sits on a chain deeper than ${MAX_DELTA_DEPTH} levels`)
    for (const b of h.bases) if (b.equals(cid)) throw new CodecError('SELF_BASE', `delta block ${cid} names itself as its base`)
    const script = h.codec === CODEC_DELTA_GZIP ? gunzipBounded(h.body, h.scriptLength, limit + 64) : h.body
    const bases = h.bases.map((b) => resolve(b, depthLeft - 1))
    out = applyDelta(script, bases, h.length)
  }
  if (options.verify !== false && !blockMatches(cid, out)) throw new CodecError('WRONG_HASH', `block ${cid} decodes (${CODEC_NAMES[h.codec]}) to bytes that do not hash to its CID`)
  return out
}

function header(codec: number, length: number, bases: CID[] = []): ByteWriter {
  const w = new ByteWriter(64 + bases.length * 40)
  w.byte(codec)
  w.uint(length)
  if (isDelta(codec)) {
    w.uint(bases.length)
    for (const b of bases) {
      w.uint(b.bytes.length)
      w.bytes(b.bytes)
    }
  }
  return w
}

/** The raw wire form (dynamic block mode): codec byte 0, then the bytes. */
export function encodeRaw(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + 1)
  out.set(bytes, 1)
  return out
}

/** gzip-encoded block, or undefined when it would not save space (or would pass the inflate-ratio bound). */
export function encodeGzip(bytes: Uint8Array, options: {sample?: boolean} = {}): Uint8Array | undefined {
  if (bytes.length < 128) return undefined
  if (options.sample !== false && !looksCompressible(bytes)) return undefined
  const gz = gzip(bytes)
  if (gz.length > bytes.length * MIN_SAVING || bytes.length > gz.length * MAX_INFLATE_RATIO) return undefined
  const w = header(CODEC_GZIP, bytes.length)
  w.bytes(gz)
  return w.result()
}

/** Delta block (with gzip stacked on top when that is smaller), from a script made by encodeDelta. */
export function encodeDeltaBlock(length: number, bases: CID[], script: Uint8Array): Uint8Array {
  const plain = header(CODEC_DELTA, length, bases)
  plain.bytes(script)
  if (script.length >= 256) {
    const gz = gzip(script)
    if (gz.length < script.length * MIN_SAVING && script.length <= gz.length * MAX_INFLATE_RATIO) {
      const w = header(CODEC_DELTA_GZIP, length, bases)
      w.uint(script.length)
      w.bytes(gz)
      if (w.pos < plain.pos) return w.result()
    }
  }
  return plain.result()
}
