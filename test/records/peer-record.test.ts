import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import fc from 'fast-check'
import {identityFromSecret, type Identity} from '../../src/lib/identity/keys.js'
import {decodePeerRecord, MAX_PEER_RECORD_BYTES, MAX_SERVICES_LENGTH, mintPeerRecord, PeerRecordError, RECORD_TTL_MS, signPeerRecord, stampResource} from '../../src/lib/records/peer-record.js'
import {mintStamp} from '../../src/lib/records/stamp.js'
import {subnets} from '../../src/lib/node/discovery.js'
import {isLoopback} from '../../src/lib/net/address.js'

const seed = (n: number) => Uint8Array.from({length: 32}, (_, i) => (i === 31 ? n : 0))
const alice = identityFromSecret('alice', seed(1))
const mallory = identityFromSecret('mallory', seed(2))
const BITS = 8
const NOW = 1_800_000_000_000

// Mirrors the record format (peer-record.ts): signature over this prefix + canonical dag-cbor of
// every field but `sig`. The positive control proves the mirror, so the negative tests fail for their reason.
const PREFIX = new TextEncoder().encode('polar-peer-record-v1\n')
function signAs(signer: Identity, value: Record<string, unknown>): Uint8Array {
  const {sig: _drop, ...unsigned} = value
  const sig = signer.sign(Uint8Array.from([...PREFIX, ...dagCbor.encode(unsigned)]))
  return dagCbor.encode({...unsigned, sig})
}

const reasonOf = (fn: () => unknown): string => {
  try {
    fn()
  } catch (err) {
    assert.ok(err instanceof PeerRecordError, `a PeerRecordError, got ${err}`)
    return err.reason
  }
  assert.fail('expected the record to be refused')
}

describe('peer records', async () => {
  const good = await mintPeerRecord(alice, {urls: ['http://127.0.0.1:7477'], services: 'polar/1', bits: BITS, time: NOW})
  const decode = (bytes: Uint8Array, now = NOW, minBits = BITS) => decodePeerRecord(bytes, {minBits, now})

  it('a minted record decodes to itself, and the mirror of the format agrees', () => {
    const r = decode(good.bytes)
    assert.equal(r.record.did, alice.did)
    assert.deepEqual(r.record.urls, ['http://127.0.0.1:7477'])
    assert.equal(r.cid.toString(), good.cid.toString())
    assert.deepEqual(signAs(alice, good.record), good.bytes)
    assert.ok(good.bytes.length < 400, `a record is small (${good.bytes.length} bytes)`)
  })

  it('refuses a forged record: signed by another key, or altered after signing', () => {
    assert.equal(reasonOf(() => decode(signAs(mallory, {...good.record}))), 'signature')
    assert.equal(reasonOf(() => decode(dagCbor.encode({...good.record, services: 'polar/1 evil'}))), 'signature')
    assert.equal(reasonOf(() => decode(dagCbor.encode({...good.record, urls: ['http://10.0.0.1:7477']}))), 'signature')
  })

  it("refuses a record naming someone else's key (mallory signs a record claiming alice's did)", () => {
    // The stamp is good for alice's did; the signature is mallory's: no record can speak for another key.
    assert.equal(reasonOf(() => decode(signAs(mallory, {...good.record, did: alice.did}))), 'signature')
  })

  it('refuses stale and future records', () => {
    assert.equal(reasonOf(() => decode(good.bytes, NOW + RECORD_TTL_MS)), 'stale')
    assert.equal(reasonOf(() => decode(good.bytes, NOW - 10 * 60_000)), 'future')
    decode(good.bytes, NOW + RECORD_TTL_MS - 1)
  })

  it('refuses a stamp below the difficulty, or minted for another key or time', async () => {
    assert.equal(reasonOf(() => decode(good.bytes, NOW, BITS + 8)), 'stamp')
    const weak = signPeerRecord(alice, {urls: ['http://127.0.0.1:1'], services: '', userKeys: [], time: NOW, stamp: await mintStamp(stampResource(alice.did), NOW, 2)})
    assert.equal(reasonOf(() => decode(weak.bytes)), 'stamp')
    const otherTime = signPeerRecord(alice, {urls: ['http://127.0.0.1:1'], services: '', userKeys: [], time: NOW + 1, stamp: good.record.stamp})
    const mallorysStamp = signPeerRecord(mallory, {urls: ['http://127.0.0.1:1'], services: '', userKeys: [], time: NOW, stamp: good.record.stamp})
    // A reused stamp meets 8 bits elsewhere by chance only 1 time in 256; these two nonces were checked not to.
    assert.equal(reasonOf(() => decode(otherTime.bytes)), 'stamp')
    assert.equal(reasonOf(() => decode(mallorysStamp.bytes)), 'stamp')
  })

  it('refuses oversized fields: a long service string, too many URLs, a record over 4096 bytes', () => {
    const longServices = signAs(alice, {...good.record, services: 'x'.repeat(MAX_SERVICES_LENGTH + 1)})
    assert.equal(reasonOf(() => decode(longServices)), 'fields')
    const manyUrls = signAs(alice, {...good.record, urls: Array.from({length: 5}, (_, i) => `http://127.0.0.1:${1000 + i}`)})
    assert.equal(reasonOf(() => decode(manyUrls)), 'fields')
    const huge = signAs(alice, {...good.record, services: 'x'.repeat(MAX_PEER_RECORD_BYTES)})
    assert.equal(reasonOf(() => decode(huge)), 'size')
    assert.throws(() => signPeerRecord(alice, {urls: ['http://a.example'], services: 'x'.repeat(300), userKeys: [], time: NOW, stamp: good.record.stamp}), /service string/)
    assert.equal(reasonOf(() => decode(signAs(alice, {...good.record, services: 'polar\n1'}))), 'fields')
    assert.equal(reasonOf(() => decode(signAs(alice, {...good.record, urls: ['http://user:pw@host:1']}))), 'fields')
    assert.equal(reasonOf(() => decode(signAs(alice, {...good.record, userKeys: ['did:key:nope']}))), 'fields')
    assert.equal(reasonOf(() => decode(signAs(alice, {...good.record, extra: 1}))), 'fields')
  })

  it('property: any well-formed record round-trips, and and any flipped bit is refused', async () => {
    const url = fc.tuple(fc.constantFrom('http', 'https'), fc.domain(), fc.integer({min: 1, max: 65535})).map(([s, d, p]) => new URL(`${s}://${d}:${p}`).origin)
    await fc.assert(fc.asyncProperty(
      fc.uniqueArray(url, {minLength: 1, maxLength: 4}),
      fc.string({unit: fc.constantFrom(...' abcdefghijklmnopqrstuvwxyz/0123456789._-'.split('')), maxLength: MAX_SERVICES_LENGTH}),
      fc.integer({min: 0, max: 2 ** 40}),
      fc.nat(),
      async (urls, services, time, flip) => {
        const r = await mintPeerRecord(alice, {urls, services, bits: 4, time})
        const back = decodePeerRecord(r.bytes, {minBits: 4, now: time})
        assert.deepEqual(back.record.urls, urls)
        assert.equal(back.record.services, services)
        const mutated = Uint8Array.from(r.bytes)
        mutated[flip % mutated.length] ^= 1 << (flip % 8)
        try {
          decodePeerRecord(mutated, {minBits: 4, now: time})
          assert.fail('a flipped bit must not verify')
        } catch (err) {
          assert.ok(err instanceof PeerRecordError, String(err))
        }
      },
    ), {numRuns: 60})
  })

  it('property: the decoder never throws anything but PeerRecordError on hostile bytes or values', () => {
    const refusesCleanly = (bytes: Uint8Array) => {
      try {
        decodePeerRecord(bytes, {minBits: 4, now: NOW})
        return false
      } catch (err) {
        return err instanceof PeerRecordError
      }
    }
    fc.assert(fc.property(fc.uint8Array({maxLength: 6000}), refusesCleanly), {numRuns: 300})
    fc.assert(fc.property(fc.object({maxDepth: 2}), (value) => {
      let bytes: Uint8Array
      try {
        bytes = dagCbor.encode(value)
      } catch {
        return true // not encodable (undefined, NaN…): nothing to send
      }
      return refusesCleanly(bytes)
    }), {numRuns: 300})
    fc.assert(fc.property(fc.record({did: fc.string(), urls: fc.array(fc.string()), services: fc.string(), userKeys: fc.array(fc.string()), time: fc.integer(), stamp: fc.anything(), sig: fc.uint8Array({minLength: 64, maxLength: 64})}), (value) => {
      try {
        return refusesCleanly(dagCbor.encode(value))
      } catch {
        return true
      }
    }), {numRuns: 300})
  })
})

describe('subnets (eclipse caps)', () => {
  it('groups IPv4 by /24 and /16, IPv6 by /48 and /32, and knows loopback', () => {
    assert.deepEqual(subnets('192.0.2.77'), ['192.0.2.0/24', '192.0.0.0/16'])
    assert.deepEqual(subnets('::ffff:192.0.2.77'), ['192.0.2.0/24', '192.0.0.0/16'])
    assert.deepEqual(subnets('2001:db8:aa:1::5'), ['2001:db8:aa::/48', '2001:db8::/32'])
    assert.equal(isLoopback('127.0.0.9'), true)
    assert.equal(isLoopback('::1'), true)
    assert.equal(isLoopback('10.0.0.1'), false)
  })
})
