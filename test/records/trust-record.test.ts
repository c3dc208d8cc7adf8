// Trust records (src/lib/records/trust-record.ts) and the trust store: forged
// and badly signed records, bad weights, self-trust and non-canonical forms
// are refused as IntegrityError and never stored; random bytes and random
// mutations never give anything else (property tests).
import assert from 'node:assert/strict'
import {after, describe, it} from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import fc from 'fast-check'
import {InputError, IntegrityError} from '../../src/lib/errors.js'
import {identityFromSecret} from '../../src/lib/identity/keys.js'
import {decodeTrustRecord, MAX_TRUST_ENTRIES, parseWeight, signTrustRecord} from '../../src/lib/records/trust-record.js'
import {openStore} from '../../src/lib/store/store.js'
import {changeEntries} from '../../src/lib/trust/change.js'
import {TrustStore} from '../../src/lib/trust/store.js'
import {tmpHome} from '../helpers.js'
import {signAs} from './sign-as.js'

const seed = (n: number) => Uint8Array.from({length: 32}, (_, i) => (i === 31 ? n : i === 30 ? 7 : 0))
const ids = Array.from({length: 8}, (_, i) => identityFromSecret(`id${i}`, seed(i + 1)))
const [alice, bob, carol, dave] = ids
const isIntegrity = (err: unknown) => err instanceof IntegrityError
const sorted = (e: Array<{did: string; weight: number}>) => [...e].sort((a, b) => (a.did < b.did ? -1 : 1))

describe('trust records', () => {
  const good = signTrustRecord([{did: bob.did, weight: 2}, {did: carol.did, weight: 0.5}], alice, 1_800_000_000_000)

  it('sign then decode round-trips, entries sorted by did', () => {
    const d = decodeTrustRecord(good.bytes)
    assert.equal(d.cid.toString(), good.cid.toString())
    assert.equal(d.record.owner, alice.did)
    assert.deepEqual(d.record.trusts, sorted([{did: bob.did, weight: 2}, {did: carol.did, weight: 0.5}]))
  })

  it('positive control: a hand-built record signed by its owner decodes', () => {
    const v = {type: 'trust', owner: alice.did, trusts: sorted([{did: bob.did, weight: 1}]), time: 5}
    assert.equal(decodeTrustRecord(signAs(alice, v)).record.time, 5)
  })

  it('refuses a forged signature, another signer, and any changed field', () => {
    const v = dagCbor.decode(good.bytes) as any
    assert.throws(() => decodeTrustRecord(dagCbor.encode({...v, sig: new Uint8Array(64)})), isIntegrity)
    assert.throws(() => decodeTrustRecord(signAs(bob, v)), /signature does not verify/)
    assert.throws(() => decodeTrustRecord(dagCbor.encode({...v, time: v.time + 1})), /signature/)
    assert.throws(() => decodeTrustRecord(dagCbor.encode({...v, trusts: v.trusts.map((e: any) => ({...e, weight: e.weight * 2}))})), /signature/)
  })

  it('refuses bad weights, bad dids, self-trust, duplicates and unsorted entries even when validly signed', () => {
    const base = {type: 'trust', owner: alice.did, time: 1}
    const bad: Array<[unknown[], RegExp]> = [
      [[{did: bob.did, weight: -1}], /positive/],
      [[{did: bob.did, weight: 0}], /positive/],
      [[{did: bob.did, weight: '2'}], /number/],
      [[{did: bob.did, weight: 2e6}], /at most/],
      [[{did: 'did:key:zNotAKey', weight: 1}], /did:key/],
      [[{did: alice.did, weight: 1}], /trusts itself/],
      [[{did: bob.did, weight: 1}, {did: bob.did, weight: 2}], /sorted/],
      [sorted([{did: bob.did, weight: 1}, {did: carol.did, weight: 1}]).reverse(), /sorted/],
      [[{did: bob.did, weight: 1, extra: 1}], /fields/],
      [[[bob.did, 1]], /not a map/],
      [Array.from({length: MAX_TRUST_ENTRIES + 1}, () => ({did: bob.did, weight: 1})), /entries/],
    ]
    for (const [trusts, why] of bad) assert.throws(() => decodeTrustRecord(signAs(alice, {...base, trusts})), (e: unknown) => isIntegrity(e) && why.test((e as Error).message), JSON.stringify(trusts).slice(0, 80))
    assert.throws(() => decodeTrustRecord(signAs(alice, {...base, type: 'object', trusts: []})), /type/)
    assert.throws(() => decodeTrustRecord(signAs(alice, {...base, trusts: [], extra: 1})), /fields/)
    assert.throws(() => decodeTrustRecord(signAs(alice, {...base, time: -1, trusts: []})), /time/)
  })

  it('signTrustRecord and parseWeight refuse bad input as InputError (exit 2)', () => {
    for (const w of [-1, 0, NaN, Infinity, 2e6]) assert.throws(() => signTrustRecord([{did: bob.did, weight: w}], alice), InputError)
    assert.throws(() => signTrustRecord([{did: alice.did, weight: 1}], alice), InputError)
    assert.throws(() => signTrustRecord([{did: 'nope', weight: 1}], alice), InputError)
    for (const t of ['-1', '0', 'abc', '', '1e999', '0x10', '1,5', 'NaN', 'Infinity']) assert.throws(() => parseWeight(t), InputError, t)
    assert.equal(parseWeight('2.5'), 2.5)
    assert.equal(parseWeight('.5'), 0.5)
  })

  it('changeEntries: add replaces a weight, rm of an unknown did is not found', () => {
    const e = changeEntries(alice.did, [{did: bob.did, weight: 1}], {op: 'add', did: bob.did, weight: 3})
    assert.deepEqual(e, [{did: bob.did, weight: 3}])
    assert.throws(() => changeEntries(alice.did, e, {op: 'rm', did: carol.did}), (err: any) => err.exit === 3)
  })

  it('random bytes and random mutations of a valid record only ever give IntegrityError', () => {
    fc.assert(fc.property(fc.uint8Array({maxLength: 600}), (b) => {
      try {
        decodeTrustRecord(b)
        assert.fail('random bytes decoded as a trust record')
      } catch (err) {
        assert.ok(isIntegrity(err), String(err))
      }
    }), {numRuns: 300})
    fc.assert(fc.property(fc.nat(good.bytes.length - 1), fc.integer({min: 1, max: 255}), (at, x) => {
      const b = Uint8Array.from(good.bytes)
      b[at] ^= x
      assert.throws(() => decodeTrustRecord(b), isIntegrity)
    }), {numRuns: 300})
  })

  it('random valid records round-trip (property)', () => {
    fc.assert(fc.property(fc.uniqueArray(fc.integer({min: 1, max: 7}), {maxLength: 7}), fc.array(fc.double({min: 0.0001, max: 1e6, noNaN: true}), {minLength: 7, maxLength: 7}), fc.nat(), (who, weights, time) => {
      const entries = who.map((i, k) => ({did: ids[i].did, weight: weights[k]}))
      const s = signTrustRecord(entries, alice, time)
      const d = decodeTrustRecord(s.bytes)
      assert.deepEqual(d.record.trusts, sorted(entries))
    }), {numRuns: 200})
  })
})

describe('trust store', () => {
  const {home, cleanup} = tmpHome()
  const store = openStore(home)
  after(() => {
    store.close()
    cleanup()
  })

  it('keeps the newest record per owner, refuses bad ones, and scores over what it holds', () => {
    const trust = new TrustStore(store.db)
    assert.equal(trust.put(signTrustRecord([{did: bob.did, weight: 1}], alice, 100).bytes).stored, true)
    assert.equal(trust.put(signTrustRecord([{did: carol.did, weight: 1}], alice, 50).bytes).stored, false, 'older loses')
    assert.deepEqual(trust.out(alice.did), [{did: bob.did, weight: 1}])
    assert.equal(trust.put(signTrustRecord([{did: carol.did, weight: 1}, {did: dave.did, weight: 1}], bob, 100).bytes).stored, true)
    assert.equal(trust.score(alice.did, dave.did).score, 0.5)
    // A forged record changes nothing.
    const forged = dagCbor.decode(signTrustRecord([{did: dave.did, weight: 9}], alice, 200).bytes) as any
    forged.trusts = [{did: carol.did, weight: 9}]
    assert.throws(() => trust.put(dagCbor.encode(forged)), IntegrityError)
    assert.deepEqual(trust.out(alice.did), [{did: bob.did, weight: 1}])
    // A newer record replaces the edges.
    assert.equal(trust.put(signTrustRecord([{did: dave.did, weight: 1}], alice, 300).bytes).stored, true)
    assert.equal(trust.score(alice.did, dave.did).score, 1)
    assert.deepEqual(trust.neighbourhood(alice.did).sort(), [alice.did, dave.did].sort())
  })
})
