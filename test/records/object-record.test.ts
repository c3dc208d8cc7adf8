import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import fc from 'fast-check'
import {CID} from 'multiformats/cid'
import {sha512} from 'multiformats/hashes/sha2'
import {cidOf} from '../../src/lib/content/cid.js'
import {DAG_CBOR_CODE, DAG_PB_CODE, RAW_CODE} from '../../src/lib/content/constants.js'
import {InputError, IntegrityError} from '../../src/lib/errors.js'
import {identityFromSecret} from '../../src/lib/identity/keys.js'
import {decodeObjectRecord, MAX_RECORD_BYTES, signObjectRecord, type UnsignedObjectRecord} from '../../src/lib/records/object-record.js'
import {signAs} from './sign-as.js'

const seed = (n: number) => Uint8Array.from({length: 32}, (_, i) => (i === 31 ? n : 0))
const alice = identityFromSecret('alice', seed(1))
const bob = identityFromSecret('bob', seed(2))
const ROOT = cidOf(DAG_PB_CODE, new TextEncoder().encode('some dag-pb root'))
const FIELDS: UnsignedObjectRecord = {root: ROOT, size: 3 * 1048576 + 7, name: 'report.pdf', mime: 'application/pdf', tags: ['work', '2026'], time: 1767225600000}


/** A CBOR map whose entries come in the given order (dag-cbor would sort them). */
function cborMapInOrder(entries: Array<[string, unknown]>): Uint8Array {
  const parts: Uint8Array[] = [Uint8Array.of(0xa0 + entries.length)]
  for (const [k, v] of entries) parts.push(dagCbor.encode(k), dagCbor.encode(v))
  return Buffer.concat(parts)
}

const isIntegrity = (err: unknown) => err instanceof IntegrityError && err.code === 'INTEGRITY'

describe('object records', () => {
  const signed = signObjectRecord(FIELDS, alice)
  const value = dagCbor.decode(signed.bytes) as Record<string, any>

  it('sign then decode round-trips: record, bytes and CID', () => {
    const d = decodeObjectRecord(signed.bytes)
    assert.equal(d.cid.toString(), signed.cid.toString())
    assert.equal(d.cid.code, DAG_CBOR_CODE)
    assert.deepEqual(d.cid, cidOf(DAG_CBOR_CODE, signed.bytes))
    assert.equal(d.record.type, 'object')
    assert.equal(d.record.root.toString(), ROOT.toString())
    assert.equal(d.record.size, FIELDS.size)
    assert.equal(d.record.name, 'report.pdf')
    assert.equal(d.record.mime, 'application/pdf')
    assert.deepEqual(d.record.tags, ['2026', 'work'], 'tags sorted')
    assert.equal(d.record.owner, alice.did)
    assert.equal(d.record.time, FIELDS.time)
    assert.equal(d.record.sig.length, 64)
    // Canonical: the same fields always give the same bytes.
    assert.deepEqual(signObjectRecord(FIELDS, alice).bytes, signed.bytes)
    assert.notDeepEqual(signObjectRecord(FIELDS, bob).bytes, signed.bytes)
  })

  it('positive control: a record re-signed by its owner after an edit decodes', () => {
    const d = decodeObjectRecord(signAs(alice, {...value, name: 'renamed.pdf'}))
    assert.equal(d.record.name, 'renamed.pdf')
    assert.equal(d.record.owner, alice.did)
  })

  it('rejects every single-byte change', () => {
    for (let i = 0; i < signed.bytes.length; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const bad = signed.bytes.slice()
        bad[i] ^= mask
        assert.throws(() => decodeObjectRecord(bad), isIntegrity, `byte ${i} ^ ${mask}`)
      }
    }
  })

  it('rejects any changed field (signature no longer matches)', () => {
    const otherRoot = cidOf(RAW_CODE, new Uint8Array(1))
    const changes: Record<string, unknown> = {
      type: 'objekt', root: otherRoot, size: value.size + 1, name: 'report.pdf ', mime: 'application/zip',
      tags: ['2026'], owner: bob.did, time: value.time + 1, sig: Uint8Array.from(value.sig, (b: number, i: number) => (i === 5 ? b ^ 1 : b)),
    }
    assert.deepEqual(Object.keys(changes).sort(), Object.keys(value).sort(), 'every field is covered')
    for (const [k, v] of Object.entries(changes)) {
      assert.throws(() => decodeObjectRecord(dagCbor.encode({...value, [k]: v})), isIntegrity, k)
    }
  })

  it('rejects a record signed by another key that keeps the owner', () => {
    assert.throws(() => decodeObjectRecord(signAs(bob, value)), isIntegrity)
    assert.throws(() => decodeObjectRecord(signAs(bob, {...value, name: 'mine now'})), isIntegrity)
    // And a record by bob claiming alice's object is bob's own, not alice's.
    const stolen = decodeObjectRecord(signAs(bob, {...value, owner: bob.did}))
    assert.equal(stolen.record.owner, bob.did)
  })

  it('rejects extra or missing fields even when validly signed', () => {
    assert.throws(() => decodeObjectRecord(signAs(alice, {...value, extra: 1})), isIntegrity)
    assert.throws(() => decodeObjectRecord(signAs(alice, {...value, replicas: 3})), isIntegrity)
    for (const k of ['mime', 'name', 'root', 'size', 'tags', 'time', 'type']) {
      const {[k]: _gone, ...rest} = value
      assert.throws(() => decodeObjectRecord(signAs(alice, rest)), isIntegrity, `without ${k}`)
    }
  })

  it('rejects ill-typed or out-of-range fields even when validly signed', () => {
    const bad: Record<string, unknown>[] = [
      {type: 'erase'}, {root: ROOT.toString()}, {root: CID.createV1(RAW_CODE, sha512.digest(new Uint8Array(1)) as any)},
      {root: CID.createV1(0x0129, ROOT.multihash)}, {size: -1}, {size: '3'}, {size: 1.5}, {name: 42}, {name: 'a\nb'},
      {name: 'x'.repeat(256)}, {mime: 'pdf'}, {mime: ''}, {tags: 'work'}, {tags: ['b', 'a']}, {tags: ['a', 'a']},
      {tags: ['has space']}, {tags: [1]}, {tags: Array.from({length: 33}, (_, i) => `t${String(i).padStart(2, '0')}`)},
      {owner: 'did:key:z6Mk'}, {owner: 'alice'}, {time: -1}, {time: '2026'},
    ]
    for (const change of bad) {
      let bytes: Uint8Array
      try {
        bytes = signAs(alice, {...value, ...change})
      } catch {
        continue // not encodable as dag-cbor at all
      }
      assert.throws(() => decodeObjectRecord(bytes), isIntegrity, JSON.stringify(change, (_k, v) => (v instanceof CID ? v.toString() : v)))
    }
    for (const sig of [new Uint8Array(63), new Uint8Array(65), 'x'.repeat(64), null]) {
      assert.throws(() => decodeObjectRecord(dagCbor.encode({...value, sig})), isIntegrity, `sig ${sig}`)
    }
  })

  it('rejects non-canonical encodings of a validly signed record', () => {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1)) // plain sort, not dag-cbor's length-first order
    assert.throws(() => decodeObjectRecord(cborMapInOrder(entries)), isIntegrity, 'key order')
    assert.throws(() => decodeObjectRecord(cborMapInOrder([...entries].reverse())), isIntegrity, 'reversed key order')
    // The same entries in canonical order decode: the mirror is right.
    const canonical = Object.keys(value).sort((a, b) => a.length - b.length || (a < b ? -1 : 1))
    assert.ok(Buffer.from(decodeObjectRecord(cborMapInOrder(canonical.map((k) => [k, value[k]]))).bytes).equals(signed.bytes))

    const b = signed.bytes
    assert.equal(b[0], 0xa9, 'a map of 9')
    assert.throws(() => decodeObjectRecord(Buffer.concat([Uint8Array.of(0xb8, 0x09), b.subarray(1)])), isIntegrity, 'non-minimal map length')
    assert.throws(() => decodeObjectRecord(Buffer.concat([Uint8Array.of(0xbf), b.subarray(1), Uint8Array.of(0xff)])), isIntegrity, 'indefinite-length map')
    assert.throws(() => decodeObjectRecord(Buffer.concat([b, Uint8Array.of(0x00)])), isIntegrity, 'trailing byte')
    // size as a non-minimal 8-byte integer, and as a float with an integral value.
    const sizeKey = dagCbor.encode('size')
    const sizeVal = dagCbor.encode(value.size)
    const at = Buffer.from(b).indexOf(Buffer.concat([sizeKey, sizeVal]))
    assert.ok(at > 0)
    const withSize = (enc: Uint8Array) => Buffer.concat([b.subarray(0, at + sizeKey.length), enc, b.subarray(at + sizeKey.length + sizeVal.length)])
    const u64 = Buffer.alloc(9)
    u64[0] = 0x1b
    u64.writeBigUInt64BE(BigInt(value.size), 1)
    assert.throws(() => decodeObjectRecord(withSize(u64)), isIntegrity, 'non-minimal integer')
    const f64 = Buffer.alloc(9)
    f64[0] = 0xfb
    f64.writeDoubleBE(value.size, 1)
    assert.throws(() => decodeObjectRecord(withSize(f64)), isIntegrity, 'float size')
    // Duplicate key: 10 entries, `name` twice.
    const dup = cborMapInOrder([...canonical.map((k) => [k, value[k]] as [string, unknown]), ['name', value.name]])
    assert.throws(() => decodeObjectRecord(dup), isIntegrity, 'duplicate key')
  })

  it('rejects oversized input before parsing it', () => {
    assert.throws(() => decodeObjectRecord(new Uint8Array(MAX_RECORD_BYTES + 1)), isIntegrity)
    assert.throws(() => decodeObjectRecord(dagCbor.encode({...value, name: 'x'.repeat(MAX_RECORD_BYTES)})), isIntegrity)
  })

  it('random bytes only ever give IntegrityError', () => {
    fc.assert(
      fc.property(fc.uint8Array({maxLength: 400}), (bytes) => {
        assert.throws(() => decodeObjectRecord(bytes), isIntegrity)
      }),
      {numRuns: 2000},
    )
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        let bytes: Uint8Array
        try { bytes = dagCbor.encode(v) } catch { return }
        assert.throws(() => decodeObjectRecord(bytes), isIntegrity)
      }),
      {numRuns: 500},
    )
  })

  it('random mutations of a valid record only ever give IntegrityError', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(), fc.integer({min: 1, max: 255})), {minLength: 1, maxLength: 4}), fc.nat(8), fc.nat(8), (edits, cutStart, cutEnd) => {
        let bad: Uint8Array = signed.bytes.slice()
        for (const [i, x] of edits) bad[i % bad.length] ^= x
        if (cutStart + cutEnd > 0) bad = bad.slice(cutStart, bad.length - cutEnd)
        assert.throws(() => decodeObjectRecord(bad), isIntegrity)
      }),
      {numRuns: 1000},
    )
  })

  it('random valid records round-trip', () => {
    const name = fc.string({unit: 'grapheme', maxLength: 40}).filter((s) => !/[\u0000-\u001f]/.test(s) && Buffer.byteLength(s) <= 255)
    const tag = fc.string({unit: 'grapheme', minLength: 1, maxLength: 12}).filter((s) => /^[^\s\u0000-\u001f]{1,64}$/u.test(s))
    const mime = fc.constantFrom('text/plain', 'application/octet-stream', 'image/svg+xml', 'text/plain;charset=utf-8', 'Application/JSON')
    fc.assert(
      fc.property(fc.uint8Array({minLength: 1, maxLength: 64}), fc.boolean(), fc.maxSafeNat(), name, mime, fc.array(tag, {maxLength: 10}), fc.integer({min: 0, max: 2 ** 47}), fc.boolean(),
        (rootBytes, raw, size, name, mime, tags, time, useBob) => {
          const fields = {root: cidOf(raw ? RAW_CODE : DAG_PB_CODE, rootBytes), size, name, mime, tags, time}
          const who = useBob ? bob : alice
          const s = signObjectRecord(fields, who)
          const d = decodeObjectRecord(s.bytes)
          assert.equal(d.cid.toString(), s.cid.toString())
          assert.equal(d.record.root.toString(), fields.root.toString())
          assert.equal(d.record.size, size)
          assert.equal(d.record.name, name)
          assert.equal(d.record.mime, mime.toLowerCase())
          assert.deepEqual(d.record.tags, [...new Set(tags.map((t) => t.trim()))].sort())
          assert.equal(d.record.owner, who.did)
          assert.equal(d.record.time, time)
          assert.deepEqual(d.record.sig, s.record.sig)
        }),
      {numRuns: 300},
    )
  })

  it('signObjectRecord refuses bad fields as InputError', () => {
    const cases: Partial<UnsignedObjectRecord>[] = [
      {mime: 'not a mime'}, {name: 'a\u0000b'}, {name: 'é'.repeat(128)}, {tags: Array.from({length: 33}, (_, i) => `t${i}`)},
      {tags: ['two words']}, {root: CID.createV1(RAW_CODE, sha512.digest(new Uint8Array(1)) as any)},
    ]
    for (const c of cases) assert.throws(() => signObjectRecord({...FIELDS, ...c}, alice), InputError, JSON.stringify(c))
  })

  // Everything signObjectRecord returns must pass decodeObjectRecord: a record this
  // node signs but every node (itself included) rejects is lost. Sizes and times
  // must be non-negative safe integers.
  it('signObjectRecord refuses sizes and times that decodeObjectRecord rejects (InputError)', () => {
    const cases: Array<Partial<UnsignedObjectRecord>> = [
      {size: -1}, {size: 1.5}, {size: 2 ** 53}, {size: Number.NaN}, {time: -5}, {time: 1e20},
    ]
    const wrong: string[] = []
    for (const c of cases) {
      try {
        const s = signObjectRecord({...FIELDS, ...c}, alice)
        let decodes = true
        try { decodeObjectRecord(s.bytes) } catch { decodes = false }
        wrong.push(`${JSON.stringify(c)}: signed${decodes ? '' : ' a record that does not decode'}`)
      } catch (err) {
        if (!(err instanceof InputError)) wrong.push(`${JSON.stringify(c)}: threw ${(err as Error).name}, not InputError`)
      }
    }
    assert.deepEqual(wrong, [])
  })

  it('the record a sign returns is the record its bytes hold (lone surrogates in names)', () => {
    let s
    try {
      s = signObjectRecord({...FIELDS, name: 'a\ud800b'}, alice)
    } catch (err) {
      assert.ok(err instanceof InputError, String(err)) // refusing it is fine too
      return
    }
    assert.equal(decodeObjectRecord(s.bytes).record.name, s.record.name)
  })
})
