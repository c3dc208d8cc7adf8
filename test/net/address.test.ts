// IP address text (src/lib/net/address.ts): every spelling of an IPv4-mapped
// IPv6 address reads as its IPv4 form, so the local-address check (dial-back
// refusal) and the rate and subnet keys cannot be sidestepped by spelling.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {addressRange, dialAllowed, isLocalAddress, isLoopback, unmapV4, v6Prefix} from '../../src/lib/net/address.js'
import {dialBackTarget} from '../../src/lib/nat/index.js'

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
    assert.equal(isLocalAddress('2606:4700::1111'), false, 'a global IPv6 address')
    assert.equal(isLocalAddress('fe80::1'), true)
    assert.equal(isLocalAddress('nonsense'), true, 'not an address: treated as local')
    assert.equal(v6Prefix('2001:db8:1:2:3:4:5:6', 4), '2001:db8:1:2::/64')
  })

  it('a stranger cannot have a node dial its own loopback through a mapped IPv6 URL', async () => {
    // new URL() rewrites [::ffff:127.0.0.1] as [::ffff:7f00:1]: it must still count as local.
    const refused = await dialBackTarget('http://[::ffff:127.0.0.1]:7477', '8.8.8.8')
    assert.ok('refused' in refused)
    assert.match(refused.refused, /is a local address \(::ffff:7f00:1\)/)
    assert.deepEqual(await dialBackTarget('http://[::ffff:127.0.0.1]:7477', '127.0.0.1'), {address: '::ffff:7f00:1'}, 'a local requester may')
    // Special-purpose ranges count as local too (they were missed by the old prefixes).
    for (const host of ['198.18.0.1', '192.0.0.8', '[64:ff9b::7f00:1]', '[2002:7f00:1::1]']) assert.ok('refused' in await dialBackTarget(`http://${host}:7477`, '8.8.8.8'), host)
  })

  it('special-purpose ranges are not global: IANA registries by name (ipaddr.js), not hand-written prefixes (issue 14)', () => {
    const special: Array<[string, string]> = [
      ['198.18.0.1', 'benchmarking (RFC 2544), 198.18.0.0/15'],
      ['198.19.255.254', 'benchmarking, upper half'],
      ['192.0.0.8', 'IETF protocol assignments, 192.0.0.0/24'],
      ['192.0.2.1', 'TEST-NET-1'],
      ['203.0.113.7', 'TEST-NET-3'],
      ['240.0.0.1', 'reserved 240/4'],
      ['255.255.255.255', 'broadcast'],
      ['169.254.169.254', 'link-local: cloud metadata'],
      ['64:ff9b::7f00:1', 'NAT64 64:ff9b::/96 (127.0.0.1 through a translator)'],
      ['64:ff9b:1::a00:1', 'local-use NAT64 64:ff9b:1::/48'],
      ['2002:7f00:1::1', '6to4 2002::/16 (127.0.0.1 embedded)'],
      ['2001:0:4136:e378::1', 'Teredo 2001::/32'],
      ['2001:db8::1', 'documentation 2001:db8::/32'],
      ['::ffff:0:7f00:1', 'IPv4-translated ::ffff:0:0/96'],
      ['100::1', 'discard-only 100::/64'],
    ]
    for (const [a, what] of special) {
      assert.equal(isLocalAddress(a), true, `${a} (${what}) counted as global`)
      assert.equal(dialAllowed(a, false), false, `${a} (${what}) dialable by a public node`)
      assert.equal(dialAllowed(a, true), false, `${a} (${what}) dialable even by a private node`)
    }
    for (const a of ['8.8.8.8', '100.63.255.255', '100.128.0.1', '198.17.255.255', '198.20.0.1', '192.0.1.1', '2606:4700::1111', '::ffff:808:808']) {
      assert.equal(addressRange(a), 'unicast', a)
      assert.equal(dialAllowed(a, false), true, a)
    }
  })

  it('a node on a private network or loopback may dial its neighbours there; a public one may not', () => {
    for (const a of ['127.0.0.1', '::1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '100.64.0.1', '100.127.255.254', 'fd00::1', '[::ffff:127.0.0.1]']) {
      assert.equal(dialAllowed(a, true), true, `${a} for a private node`)
      assert.equal(dialAllowed(a, false), false, `${a} for a public node`)
    }
    for (const a of ['0.0.0.0', '::', '224.0.0.1', 'ff02::1', 'fe80::1', 'not an address', '127.1', '']) assert.equal(dialAllowed(a, true), false, JSON.stringify(a))
  })
})
