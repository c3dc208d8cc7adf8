import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import fc from 'fast-check'
import {cidOf} from '../../src/lib/content/cid.js'
import {DAG_CBOR_CODE, DAG_PB_CODE, RAW_CODE} from '../../src/lib/content/constants.js'
import {IntegrityError, NotAllowedError} from '../../src/lib/errors.js'
import {identityFromSecret} from '../../src/lib/identity/keys.js'
import {decodeEraseRecord, signEraseRecord, verifyErase} from '../../src/lib/records/erase-record.js'
import {signObjectRecord} from '../../src/lib/records/object-record.js'
import {signAs} from './sign-as.js'

const seed = (n: number) => Uint8Array.from({length: 32}, (_, i) => (i === 31 ? n : 0))
const alice = identityFromSecret('alice', seed(1))
const bob = identityFromSecret('bob', seed(2))
const ROOT = cidOf(DAG_PB_CODE, new TextEncoder().encode('a root'))
const object = signObjectRecord({root: ROOT, size: 10, name: 'a.txt', mime: 'text/plain', tags: [], time: 1767225600000}, alice)

const isIntegrity = (err: unknown) => err instanceof IntegrityError
const isNotOwner = (err: unknown) => err instanceof NotAllowedError && err.code === 'NOT_OWNER'

describe('erase records', () => {
  const erase = signEraseRecord(object, alice, 1767225700000)

  it('round-trips and verifies against the record it erases', () => {
    const d = decodeEraseRecord(erase.bytes)
    assert.ok(d.cid.equals(erase.cid))
    assert.ok(d.record.target.equals(object.cid))
    assert.ok(d.record.root.equals(ROOT))
    assert.equal(d.record.owner, alice.did)
    const v = verifyErase(erase.bytes, object.bytes)
    assert.ok(v.object.cid.equals(object.cid))
    // The positive control for the mirror below.
    assert.deepEqual(signAs(alice, dagCbor.decode(erase.bytes) as any), erase.bytes)
  })

  it('only the owner can sign one (exit 6), and a stranger-signed one does not verify', () => {
    assert.throws(() => signEraseRecord(object, bob), isNotOwner)
    const claim = {...(dagCbor.decode(erase.bytes) as any)}
    // Bob signs a record that names Alice as owner: the signature is checked against Alice's key.
    assert.throws(() => decodeEraseRecord(signAs(bob, claim)), isIntegrity)
    // Bob signs as himself: a valid erase record, but not for Alice's object.
    const bobs = signAs(bob, {...claim, owner: bob.did})
    assert.equal(decodeEraseRecord(bobs).record.owner, bob.did)
    assert.throws(() => verifyErase(bobs, object.bytes), isNotOwner)
  })

  it('is refused with the wrong record, a wrong root, or a bad record', () => {
    const other = signObjectRecord({root: ROOT, size: 11, name: 'b.txt', mime: 'text/plain', tags: [], time: 1}, alice)
    assert.throws(() => verifyErase(erase.bytes, other.bytes), isIntegrity)
    const claim = dagCbor.decode(erase.bytes) as any
    const wrongRoot = signAs(alice, {...claim, root: cidOf(RAW_CODE, Uint8Array.of(1))})
    assert.throws(() => verifyErase(wrongRoot, object.bytes), isIntegrity)
    assert.throws(() => verifyErase(erase.bytes, Uint8Array.of(1, 2, 3)), isIntegrity)
    assert.throws(() => verifyErase(erase.bytes, erase.bytes), isIntegrity)
  })

  it('refuses wrong shapes with IntegrityError', () => {
    const claim = dagCbor.decode(erase.bytes) as any
    const cases: Array<[string, Uint8Array]> = [
      ['extra field', signAs(alice, {...claim, extra: 1})],
      ['missing field', signAs(alice, (({time: _t, ...rest}) => rest)(claim))],
      ['wrong type', signAs(alice, {...claim, type: 'object'})],
      ['target not a CID', signAs(alice, {...claim, target: 'bafy'})],
      ['target not dag-cbor', signAs(alice, {...claim, target: ROOT})],
      ['negative time', signAs(alice, {...claim, time: -1})],
      ['float time', signAs(alice, {...claim, time: 1.5})],
      ['owner not a did', signAs(alice, {...claim, owner: 'alice'})],
      ['short sig', dagCbor.encode({...claim, sig: new Uint8Array(10)})],
      ['not a map', dagCbor.encode([1, 2])],
      ['bytes', dagCbor.encode(new Uint8Array(4))],
      ['too large', new Uint8Array(17 * 1024)],
      ['empty', new Uint8Array(0)],
    ]
    for (const [what, bytes] of cases) assert.throws(() => decodeEraseRecord(bytes), isIntegrity, what)
  })

  it('property: random bytes and mutated records never decode to anything but the original (IntegrityError otherwise)', () => {
    fc.assert(fc.property(fc.uint8Array({maxLength: 400}), (bytes) => {
      try {
        decodeEraseRecord(bytes)
        return false // random bytes never carry Alice's signature
      } catch (err) {
        return isIntegrity(err)
      }
    }), {numRuns: 500})
    fc.assert(fc.property(fc.nat({max: erase.bytes.length - 1}), fc.integer({min: 1, max: 255}), (at, xor) => {
      const bytes = Uint8Array.from(erase.bytes)
      bytes[at] ^= xor
      try {
        decodeEraseRecord(bytes)
        return false
      } catch (err) {
        return isIntegrity(err)
      }
    }), {numRuns: 500})
    // Truncations and appended bytes.
    fc.assert(fc.property(fc.nat({max: erase.bytes.length - 1}), fc.uint8Array({maxLength: 8}), (cut, tail) => {
      for (const bytes of [erase.bytes.subarray(0, cut), Uint8Array.from([...erase.bytes, ...tail, 0])]) {
        try {
          decodeEraseRecord(bytes)
          return false
        } catch (err) {
          if (!isIntegrity(err)) return false
        }
      }
      return true
    }), {numRuns: 300})
  })

  it('property: any owner-signed erase of any record round-trips and verifies', () => {
    fc.assert(fc.property(fc.uint8Array({maxLength: 32}), fc.nat(), fc.nat({max: 2 ** 47}), (root, size, time) => {
      const rec = signObjectRecord({root: cidOf(RAW_CODE, root), size, name: 'n', mime: 'text/plain', tags: [], time}, alice)
      const e = signEraseRecord(rec, alice, time)
      const v = verifyErase(e.bytes, rec.bytes)
      return v.erase.cid.equals(e.cid) && v.erase.cid.equals(cidOf(DAG_CBOR_CODE, e.bytes)) && v.object.cid.equals(rec.cid)
    }), {numRuns: 100})
  })
})
