// IP address text (src/lib/net/address.ts): every spelling of an IPv4-mapped
// IPv6 address reads as its IPv4 form, so the local-address check (dial-back
// refusal) and the rate and subnet keys cannot be sidestepped by spelling.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {isLocalAddress, isLoopback, unmapV4, v6Prefix} from '../../src/lib/net/address.js'
import {dialBackRefusal} from '../../src/lib/node/nat.js'

describe('address text', () => {
  it('reads every spelling of a mapped IPv4 address as that address', () => {
    for (const s of ['::ffff:127.0.0.1', '[::ffff:127.0.0.1]', '::ffff:7f00:1', '[::ffff:7f00:1]', '0:0:0:0:0:ffff:7f00:0001', '::FFFF:7F00:1']) {
      assert.equal(unmapV4(s), '127.0.0.1', s)
      assert.equal(isLoopback(s), true, s)
      assert.equal(isLocalAddress(s), true, s)
    }
    assert.equal(unmapV4('::ffff:c0a8:101'), '192.168.1.1')
    assert.equal(isLocalAddress('[::ffff:a00:1]'), true, '10.0.0.1 mapped')
    assert.equal(isLocalAddress('::ffff:808:808'), false, '8.8.8.8 mapped is global')
  })

  it('leaves other addresses as they are', () => {
    assert.equal(unmapV4('1.2.3.4'), '1.2.3.4')
    assert.equal(unmapV4('2001:db8::1'), '2001:db8::1')
    assert.equal(unmapV4('[2001:db8::1]'), '2001:db8::1')
    assert.equal(unmapV4('not an address'), 'not an address')
    assert.equal(isLocalAddress('2001:db8::1'), false)
    assert.equal(isLocalAddress('fe80::1'), true)
    assert.equal(isLocalAddress('nonsense'), true, 'not an address: treated as local')
    assert.equal(v6Prefix('2001:db8:1:2:3:4:5:6', 4), '2001:db8:1:2::/64')
  })

  it('a stranger cannot have a node dial its own loopback through a mapped IPv6 URL', async () => {
    // new URL() rewrites [::ffff:127.0.0.1] as [::ffff:7f00:1]: it must still count as local.
    assert.match(String(await dialBackRefusal('http://[::ffff:127.0.0.1]:7477', '8.8.8.8')), /is a local address \(::ffff:7f00:1\)/)
    assert.equal(await dialBackRefusal('http://[::ffff:127.0.0.1]:7477', '127.0.0.1'), null, 'a local requester may')
  })
})
