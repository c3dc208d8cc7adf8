import assert from 'node:assert/strict'
import {test} from 'node:test'
import fc from 'fast-check'
import {leadingZeroBits, mintStamp, SpentStamps, stampProblem} from '../../src/lib/records/stamp.js'

test('a minted stamp checks for its resource and time, and for nothing else', async () => {
  const stamp = await mintStamp('did:key:zA', 1000, 12)
  assert.equal(stampProblem(stamp, 'did:key:zA', 1000, 12), null)
  assert.match(stampProblem(stamp, 'did:key:zA', 1000, 13) ?? '', /below the required/)
  // a different resource or time almost never meets 12 bits with the same nonce (1 in 4096)
  assert.notEqual(stampProblem(stamp, 'did:key:zB', 1000, 12), null)
  assert.notEqual(stampProblem({...stamp, bits: 20}, 'did:key:zA', 1000, 12), null)
})

test('leadingZeroBits counts across bytes', () => {
  assert.equal(leadingZeroBits(Uint8Array.of(0, 0, 0x80)), 16)
  assert.equal(leadingZeroBits(Uint8Array.of(0, 0x01)), 15)
  assert.equal(leadingZeroBits(Uint8Array.of(0xff)), 0)
  assert.equal(leadingZeroBits(new Uint8Array(4)), 32)
})

test('the stamp decoder never throws on hostile input', () => {
  fc.assert(fc.property(fc.anything(), (value) => typeof stampProblem(value, 'r', 1, 4) === 'string' || stampProblem(value, 'r', 1, 4) === null))
  assert.match(stampProblem({bits: 4, nonce: 'x'.repeat(40)}, 'r', 1, 4)!, /nonce/)
  assert.match(stampProblem({bits: 99, nonce: '0'}, 'r', 1, 4)!, /bits/)
})

test('a spent stamp cannot be spent again until it expires', () => {
  const spent = new SpentStamps()
  const stamp = {bits: 0, nonce: '0'}
  assert.equal(spent.spend('r', 1, stamp, 2000, 1000), true)
  assert.equal(spent.spend('r', 1, stamp, 2000, 1500), false)
  assert.equal(spent.spend('r', 1, stamp, 3000, 2500), true)
})
