import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {describe, it} from 'node:test'
import {createGzip, gzipSync} from 'node:zlib'
import fc from 'fast-check'
import {CID} from 'multiformats/cid'
import {
  BaseIndex, CODEC_DELTA, CODEC_DELTA_GZIP, CODEC_GZIP, CodecError, decodeBlock, encodeBest, encodeDeltaBlock,
  encodeGzip, encodeRaw, MAX_DECODED_SIZE, MAX_DELTA_DEPTH, scriptActions,
} from '../../src/lib/codec/index.js'
import type {CodecRefusal} from '../../src/lib/codec/errors.js'
import {ByteWriter} from '../../src/lib/codec/varint.js'
import {cidOf} from '../../src/lib/content/cid.js'
import {RAW_CODE} from '../../src/lib/content/constants.js'
import {prng} from '../content/oracle.js'

const MiB = 1024 * 1024
const raw = (bytes: Uint8Array) => ({cid: cidOf(RAW_CODE, bytes), bytes})
const noBases = (c: CID): Uint8Array => { throw new CodecError('MISSING_BASE', `no base ${c}`) }

/** A delta block written by hand (for hostile scripts). */
function deltaBlock(length: number, bases: CID[], actions: Array<['copy', number, number, number] | ['insert', Uint8Array]>): Uint8Array {
  const s = new ByteWriter()
  for (const a of actions) {
    if (a[0] === 'insert') { s.uint(a[1].length * 2); s.bytes(a[1]) } else { s.uint(a[3] * 2 + 1); s.uint(a[1]); s.uint(a[2]) }
  }
  const w = new ByteWriter()
  w.byte(CODEC_DELTA); w.uint(length); w.uint(bases.length)
  for (const b of bases) { w.uint(b.bytes.length); w.bytes(b.bytes) }
  w.bytes(s.result())
  return w.result()
}

function gzipBlock(length: number, gz: Uint8Array): Uint8Array {
  const w = new ByteWriter()
  w.byte(CODEC_GZIP); w.uint(length); w.bytes(gz)
  return w.result()
}

/**
 * Runs fn, which must be refused for `reason` (not just any CodecError: a
 * block refused for another reason, its hash say, would pass a test meant
 * for a specific check even with that check gone), and reports its time and
 * the heap growth (a bomb must cost neither).
 */
function refused(reason: CodecRefusal, fn: () => unknown): {ms: number; heapMiB: number} {
  const heap = process.memoryUsage().arrayBuffers
  const t = performance.now()
  assert.throws(fn, (err: Error) => {
    assert.ok(err instanceof CodecError, `expected a CodecError, got ${err}`)
    assert.equal(err.reason, reason, err.message)
    return true
  })
  return {ms: performance.now() - t, heapMiB: (process.memoryUsage().arrayBuffers - heap) / MiB}
}

describe('codecs', () => {
  it('gzip round-trips compressible data and leaves random data raw', () => {
    const text = Buffer.from('polar stores blocks; '.repeat(40_000).slice(0, MiB))
    const b = raw(text)
    const enc = encodeGzip(text)!
    assert.ok(enc && enc.length < text.length / 5)
    assert.deepEqual(Buffer.from(decodeBlock(b.cid, enc, noBases)), text)
    assert.equal(encodeGzip(randomBytes(MiB)), undefined)
    assert.equal(encodeBest(randomBytes(MiB)), undefined)
  })

  it('delta finds matches after an insertion shifts every later byte, across several bases', () => {
    const v1 = prng(3 * MiB, 7)
    const v2 = Buffer.concat([v1.subarray(0, 1000), Buffer.from('inserted!'), v1.subarray(1000, 2 * MiB + 5000)])
    const target = v2.subarray(MiB - 5000, 2 * MiB - 5000) // spans two base blocks, shifted by the insertion
    const bases = [0, 1, 2].map((i) => raw(v1.subarray(i * MiB, (i + 1) * MiB)))
    const e = encodeBest(target, bases.map((b) => ({cid: b.cid, index: new BaseIndex(b.bytes)})))!
    assert.ok(e.codec === CODEC_DELTA || e.codec === CODEC_DELTA_GZIP)
    assert.ok(e.bytes.length < 1000, `delta is ${e.bytes.length} bytes`)
    assert.equal(e.bases.length, 2, 'unused bases are dropped')
    const byCid = new Map(bases.map((b) => [b.cid.toString(), b.bytes]))
    const out = decodeBlock(cidOf(RAW_CODE, target), e.bytes, (c) => byCid.get(c.toString())!)
    assert.deepEqual(Buffer.from(out), Buffer.from(target))
  })

  it('property: any target over any base decodes back exactly', () => {
    fc.assert(fc.property(fc.uint8Array({maxLength: 3000}), fc.uint8Array({maxLength: 3000}), fc.nat(3000), (base, ins, at) => {
      const target = Buffer.concat([base.subarray(0, at), ins, base.subarray(at)])
      const b = raw(base)
      const e = encodeBest(target, [{cid: b.cid, index: new BaseIndex(base)}], {gzip: false})
      if (!e) return
      const out = decodeBlock(cidOf(RAW_CODE, target), e.bytes, () => base)
      assert.deepEqual(Buffer.from(out), target)
    }), {numRuns: 200})
  })

  it('refuses a 1000:1 gzip bomb from its lengths, before inflating', () => {
    const zeros = new Uint8Array(MAX_DECODED_SIZE)
    const gz = gzipSync(zeros, {level: 9})
    assert.ok(zeros.length / gz.length > 500)
    const r = refused('BOMB', () => decodeBlock(raw(zeros).cid, gzipBlock(zeros.length, gz), noBases))
    assert.ok(r.ms < 50)
  })

  it('refuses a gzip whose footer lies (1 GiB of zeros declared as 1 MiB), counting output while inflating', async () => {
    // 1 GiB of zeros deflates to ~1 MiB; made in pieces (node's zlib, streaming) so the test never holds 1 GiB.
    const gz = createGzip({level: 1})
    const parts: Buffer[] = []
    gz.on('data', (d: Buffer) => parts.push(d))
    const done = new Promise((resolve) => gz.on('end', resolve))
    const piece = new Uint8Array(16 * MiB)
    for (let i = 0; i < 64; i++) if (!gz.write(piece)) await new Promise((resolve) => gz.once('drain', resolve))
    gz.end()
    await done
    const bomb = Buffer.concat(parts)
    bomb.writeUInt32LE(MiB, bomb.length - 4) // ISIZE footer claims 1 MiB
    const r = refused('BOMB', () => decodeBlock(raw(new Uint8Array(MiB)).cid, gzipBlock(MiB, bomb), noBases))
    // 1 GiB unbounded; bounded: the declared 1 MiB plus inflate steps not yet collected.
    assert.ok(r.heapMiB < 64, `bomb cost ${r.heapMiB} MiB`)
    assert.ok(r.ms < 1000)
  })

  it('refuses lengths over the limit before unpacking anything', () => {
    refused('TOO_LARGE', () => decodeBlock(raw(new Uint8Array(1)).cid, gzipBlock(MAX_DECODED_SIZE + 1, randomBytes(100)), noBases))
    const base = raw(randomBytes(1000))
    const over = deltaBlock(MAX_DECODED_SIZE + 1, [base.cid], [['copy', 0, 0, 1000]])
    refused('TOO_LARGE', () => decodeBlock(raw(new Uint8Array(1)).cid, over, () => base.bytes))
  })

  it('refuses a delta that copies itself, or outside its base, or past its declared length', () => {
    const base = raw(randomBytes(1000))
    const target = Buffer.concat([base.bytes, base.bytes])
    const tcid = cidOf(RAW_CODE, target)
    // Self-reference: the block names its own CID as its base.
    refused('SELF_BASE', () => decodeBlock(tcid, deltaBlock(2000, [tcid], [['copy', 0, 0, 1000], ['copy', 0, 0, 1000]]), () => target))
    // Exponential growth by copying the same base over and over: a script far longer than
    // its block is refused from its length, before any action runs…
    const many = Array.from({length: 5000}, () => ['copy', 0, 0, 1000] as ['copy', number, number, number])
    refused('BOMB', () => decodeBlock(tcid, deltaBlock(2000, [base.cid], many), () => base.bytes))
    // …and a short script whose copies add up past the declared length stops at it.
    refused('PAST_LENGTH', () => decodeBlock(tcid, deltaBlock(2000, [base.cid], [['copy', 0, 0, 1000], ['copy', 0, 0, 1000], ['copy', 0, 0, 1000]]), () => base.bytes))
    // Outside its base: past the base's end, and from a base it does not name.
    refused('OUTSIDE_BASE', () => decodeBlock(tcid, deltaBlock(2000, [base.cid], [['copy', 0, 500, 1000], ['copy', 0, 0, 1000]]), () => base.bytes))
    refused('OUTSIDE_BASE', () => decodeBlock(tcid, deltaBlock(2000, [base.cid], [['copy', 1, 0, 1000], ['copy', 0, 0, 1000]]), () => base.bytes))
    // Honest version decodes.
    assert.deepEqual(Buffer.from(decodeBlock(tcid, deltaBlock(2000, [base.cid], [['copy', 0, 0, 1000], ['copy', 0, 0, 1000]]), () => base.bytes)), target)
    // Bytes that decode but do not hash to the CID.
    refused('WRONG_HASH', () => decodeBlock(tcid, deltaBlock(2000, [base.cid], [['copy', 0, 0, 1000], ['insert', new Uint8Array(1000)]]), () => base.bytes))
  })

  it('refuses a missing base and a chain deeper than the limit', () => {
    const base = raw(randomBytes(100))
    // (Not decoded under the base's own CID: that would be refused as naming itself.)
    const next = raw(Buffer.concat([base.bytes, Buffer.from([1])]))
    refused('MISSING_BASE', () => decodeBlock(next.cid, deltaBlock(101, [base.cid], [['copy', 0, 0, 100], ['insert', Buffer.from([1])]]), noBases))
    assert.deepEqual(Buffer.from(decodeBlock(next.cid, deltaBlock(101, [base.cid], [['copy', 0, 0, 100], ['insert', Buffer.from([1])]]), () => base.bytes)), Buffer.from(next.bytes))
    // A chain of MAX_DELTA_DEPTH + 1 deltas, each copying the one below it.
    const chain = new Map<string, Uint8Array>()
    let prev = base.cid
    let top = base.cid
    for (let i = 0; i <= MAX_DELTA_DEPTH; i++) {
      const bytes = Buffer.concat([base.bytes, Buffer.from([i])]).subarray(0, 100 + (i % 1))
      const cid = cidOf(RAW_CODE, Buffer.concat([Buffer.from(bytes), Buffer.from([0xff, i])]))
      chain.set(cid.toString(), deltaBlock(102, [prev], [['copy', 0, 0, 100], ['insert', Buffer.from([0xff, i])]]))
      prev = cid
      top = cid
    }
    const resolve = (c: CID, left: number): Uint8Array => {
      if (c.equals(base.cid)) return base.bytes
      return decodeBlock(c, chain.get(c.toString())!, resolve, left)
    }
    refused('TOO_DEEP', () => decodeBlock(top, chain.get(top.toString())!, resolve))
    // One level less decodes: the chain is honest, only its depth is refused.
    const below = [...chain.keys()].at(-2)!
    assert.ok(decodeBlock(CID.parse(below), chain.get(below)!, resolve).length === 102)
  })

  it('property: random bytes as an encoded block are refused quickly, never crash', () => {
    const cid = raw(new Uint8Array(10)).cid
    fc.assert(fc.property(fc.uint8Array({maxLength: 4096}), fc.constantFrom(0, 1, 2, 3, 9), (bytes, codec) => {
      const b = new Uint8Array(bytes.length + 1)
      b[0] = codec
      b.set(bytes, 1)
      const t = performance.now()
      try {
        decodeBlock(cid, b, () => randomBytes(100))
        assert.fail('random bytes decoded to the CID')
      } catch (err) {
        assert.ok(err instanceof CodecError, String(err))
      }
      assert.ok(performance.now() - t < 500)
    }), {numRuns: 500})
  })

  it('raw wire form decodes to itself', () => {
    const b = raw(randomBytes(500))
    assert.deepEqual(Buffer.from(decodeBlock(b.cid, encodeRaw(b.bytes), noBases)), Buffer.from(b.bytes))
    assert.ok(scriptActions(new Uint8Array(0)).length === 0)
    assert.ok(encodeDeltaBlock(10, [b.cid], new Uint8Array([20, ...new Uint8Array(10)])).length > 0)
  })
})

