import {CodecError} from './errors.js'
import {ByteReader, ByteWriter} from './varint.js'

/**
 * Delta scripts (Planet draft 003, "Block protocol"): a block is rebuilt from
 * its bases by *copy* (base, offset, length) and *insert* (bytes) actions.
 *
 * Script layout: a sequence of actions, each starting with a varint `op`:
 * - op even: insert `op >> 1` bytes, which follow;
 * - op odd: copy `op >> 1` bytes from base number `varint`, at offset `varint`.
 *
 * The encoder is an rsync/xdelta-style matcher: every base is indexed by a
 * hash of SEED bytes at every STRIDE-th offset; the target is scanned with a
 * rolling hash at every offset, so a match is found wherever it moved to (an
 * insertion that shifts all later bytes still matches), then grown forwards
 * and backwards byte by byte. The bases are a window of consecutive blocks of
 * the earlier version, so a copy may run from one base on into the next.
 */

/** Bytes hashed per fingerprint: shorter matches are not worth a copy action. */
export const SEED = 32
/**
 * Base offsets indexed: one fingerprint per STRIDE bytes (a match of SEED +
 * STRIDE bytes is always found). 32 keeps a 1 MiB base's table at 128 KiB, in
 * cache: building it was bound by cache misses at 16.
 */
export const STRIDE = 32
// Gear rolling hash (as in FastCDC): h = (h << 1) + GEAR[byte]. In 32 bits a
// byte is shifted out after 32 steps, so h covers exactly the last SEED bytes
// and rolling costs a shift, a lookup and an add per byte.
const GEAR = (() => {
  const t = new Int32Array(256)
  let x = 0x9e3779b9
  for (let i = 0; i < 256; i++) {
    // xorshift32: a fixed table, the same in every process (indexes are rebuilt, never stored).
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5
    t[i] = x
  }
  return t
})()
const GOLDEN = 0x9e3779b1

function hashAt(b: Uint8Array, at: number): number {
  let h = 0
  for (let i = 0; i < SEED; i++) h = ((h << 1) + GEAR[b[at + i]]) | 0
  return h
}

function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length)
}

/** Fingerprints of one base: offset + 1 by hash bucket (0 = empty). Build once per base block and reuse. */
export class BaseIndex {
  readonly table: Int32Array
  /** Bucket = (hash * GOLDEN) >>> shift: the well-mixed high bits. */
  readonly shift: number
  readonly bytes: Buffer
  constructor(bytes: Uint8Array) {
    this.bytes = asBuffer(bytes)
    const entries = Math.max(1, bytes.length / STRIDE)
    let bits = 10
    while ((1 << bits) < entries && bits < 20) bits++
    this.table = new Int32Array(1 << bits)
    this.shift = 32 - bits
    if (bytes.length < SEED) return
    const table = this.table
    const shift = this.shift
    // h after byte e covers [e - SEED + 1, e]: for each window start s (a multiple of
    // STRIDE) roll on to byte s + SEED - 1, then record s + 1.
    let h = 0
    let e = 0
    for (let s = 0; s + SEED <= bytes.length; s += STRIDE) {
      for (const end = s + SEED; e < end; e++) h = ((h << 1) + GEAR[bytes[e]]) | 0
      table[Math.imul(h, GOLDEN) >>> shift] = s + 1
    }
  }
}

/** Length of the common run of a[ai..] and b[bi..], at most `max`. */
function forwardMatch(a: Buffer, ai: number, b: Buffer, bi: number, max: number): number {
  let n = 0
  // Long runs are compared natively (memcmp, no allocation) in big steps, then smaller, then byte by byte.
  while (n + 4096 <= max && a.compare(b, bi + n, bi + n + 4096, ai + n, ai + n + 4096) === 0) n += 4096
  while (n + 64 <= max && a.compare(b, bi + n, bi + n + 64, ai + n, ai + n + 64) === 0) n += 64
  while (n < max && a[ai + n] === b[bi + n]) n++
  return n
}

/**
 * A delta script rebuilding `target` from `bases` (a window of consecutive
 * base blocks), or undefined when the script would not be smaller than
 * `budget` bytes (not worth it). `used[i]` tells which bases it copies from.
 */
export function encodeDelta(input: Uint8Array, bases: BaseIndex[], budget = input.length): {script: Uint8Array; used: boolean[]} | undefined {
  const target = asBuffer(input)
  const w = new ByteWriter(Math.min(budget, 64 * 1024) + 64)
  const used = bases.map(() => false)
  const len = target.length
  let pending = 0 // start of bytes not yet covered by an action
  const flushInsert = (end: number) => {
    if (end > pending) {
      w.uint((end - pending) * 2)
      w.bytes(target.subarray(pending, end))
    }
  }
  const emitCopy = (base: number, offset: number, n: number) => {
    w.uint(n * 2 + 1)
    w.uint(base)
    w.uint(offset)
    used[base] = true
  }
  const nb = bases.length
  const tables = bases.map((b) => b.table)
  const shifts = bases.map((b) => b.shift)
  const bytes = bases.map((b) => b.bytes)
  let pos = 0
  let h = len >= SEED ? hashAt(target, 0) : 0
    while (pos + SEED <= len) {
    if (w.pos > budget) return undefined
    const key = Math.imul(h, GOLDEN)
    let found = -1
    let at = 0
    for (let i = 0; i < nb; i++) {
      const cand = tables[i][key >>> shifts[i]] - 1
      if (cand < 0) continue
      const bb = bytes[i]
      // Cheap first-byte test before the full SEED-byte check (most candidates in new data are false).
      if (bb[cand] === target[pos] && cand + SEED <= bb.length && forwardMatch(target, pos, bb, cand, SEED) === SEED) {
        found = i
        at = cand
        break
      }
    }
    if (found < 0) {
      if (pos + SEED >= len) break
      h = ((h << 1) + GEAR[target[pos + SEED]]) | 0
      pos++
      continue
    }
    // Grow backwards into the bytes not yet covered, then forwards.
    let start = pos
    let bstart = at
    const base = bases[found].bytes
    while (start > pending && bstart > 0 && target[start - 1] === base[bstart - 1]) {
      start--
      bstart--
    }
    let n = (pos - start) + forwardMatch(target, pos, base, at, Math.min(len - pos, base.length - at))
    flushInsert(start)
    emitCopy(found, bstart, n)
    pos = start + n
    // A run that reaches the end of one base goes on into the next one of the window.
    let b = found
    while (pos < len && bstart + n === bases[b].bytes.length && b + 1 < bases.length) {
      b++
      const next = bases[b].bytes
      const m = forwardMatch(target, pos, next, 0, Math.min(len - pos, next.length))
      if (m < SEED) break
      emitCopy(b, 0, m)
      bstart = 0
      n = m
      pos += m
    }
    pending = pos
    if (pos + SEED <= len) h = hashAt(target, pos)
  }
  flushInsert(len)
  if (w.pos > budget) return undefined
  return {script: w.result(), used}
}

/**
 * Rebuilds a block from a delta script and its (decoded) bases. Every action
 * is checked before any byte moves: a copy must lie inside its base, and the
 * output may never pass `expected` bytes (declared in the block header and
 * already checked against the limit).
 */
export function applyDelta(script: Uint8Array, bases: Uint8Array[], expected: number): Uint8Array {
  const out = new Uint8Array(expected)
  const r = new ByteReader(script)
  let got = 0
  while (!r.done) {
    const op = r.uint()
    const n = Math.floor(op / 2)
    if (n > expected - got) throw new CodecError('PAST_LENGTH', `delta action of ${n} bytes runs past the declared ${expected} bytes`)
    if (op % 2 === 0) {
      out.set(r.bytes(n), got)
    } else {
      const bi = r.uint()
      if (bi >= bases.length) throw new CodecError('OUTSIDE_BASE', `delta copies from base ${bi}, but names ${bases.length}`)
      const off = r.uint()
      const base = bases[bi]
      if (off + n > base.length) throw new CodecError('OUTSIDE_BASE', `delta copies bytes ${off}..${off + n} of base ${bi}, which has ${base.length}`)
      out.set(base.subarray(off, off + n), got)
    }
    got += n
  }
  if (got !== expected) throw new CodecError('SHORT', `delta builds ${got} bytes, not the ${expected} it declares`)
  return out
}

/** Copy actions as the script holds them (for tests and tools). */
export function scriptActions(script: Uint8Array): Array<{copy: [number, number, number]} | {insert: number}> {
  const r = new ByteReader(script)
  const out: Array<{copy: [number, number, number]} | {insert: number}> = []
  while (!r.done) {
    const op = r.uint()
    const n = Math.floor(op / 2)
    if (op % 2 === 0) {
      r.bytes(n)
      out.push({insert: n})
    } else out.push({copy: [r.uint(), r.uint(), n]})
  }
  return out
}

/** Rewrites the base numbers of a script (`map[old]` = new number), e.g. after dropping unused bases. */
export function remapScript(script: Uint8Array, map: number[]): Uint8Array {
  const r = new ByteReader(script)
  const w = new ByteWriter(script.length + 16)
  while (!r.done) {
    const op = r.uint()
    w.uint(op)
    if (op % 2 === 0) w.bytes(r.bytes(Math.floor(op / 2)))
    else {
      w.uint(map[r.uint()])
      w.uint(r.uint())
    }
  }
  return w.result()
}
