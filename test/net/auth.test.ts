// Signed requests (src/lib/net/auth.ts) and block batch frames
// (src/lib/net/frames.ts) as units: what a signature covers, the clock
// window, the replay guard, and frame limits checked before buffering.
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {describe, it} from 'node:test'
import fc from 'fast-check'
import {cidOf} from '../../src/lib/content/cid.js'
import {MAX_BLOCK_SIZE, RAW_CODE} from '../../src/lib/content/constants.js'
import {generateSecretKey, identityFromSecret} from '../../src/lib/identity/index.js'
import {claimedSigner, HEADER_DID, HEADER_SIG, HEADER_TIME, MAX_CLOCK_SKEW_MS, ReplayGuard, signRequest, verifyRequest} from '../../src/lib/net/auth.js'
import {decodeFrames, encodeFrames, FrameScanner, MAX_BATCH_BLOCKS} from '../../src/lib/net/frames.js'
import {HttpError} from '../../src/lib/net/http.js'

const alice = identityFromSecret('alice', generateSecretKey())
const bob = identityFromSecret('bob', generateSecretKey())
const body = new TextEncoder().encode('{"cids":[]}')
const NOW = 1_800_000_000_000

function refused(fn: () => unknown, status: number, code: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof HttpError, String(err))
    assert.equal(err.status, status)
    assert.equal(err.code, code)
    return true
  })
}

describe('signed requests', () => {
  it('a request verifies as its signer', () => {
    const h = signRequest(alice, 'POST', '/v1/blocks', body, NOW)
    assert.deepEqual(Object.keys(h).sort(), [HEADER_DID, HEADER_SIG, HEADER_TIME].sort())
    assert.equal(h[HEADER_DID], alice.did)
    assert.equal(h[HEADER_TIME], String(NOW))
    assert.equal(verifyRequest(h, 'POST', '/v1/blocks', body, undefined, NOW), alice.did)
    // The method is compared case-insensitively (it is upper-cased on both sides).
    assert.equal(verifyRequest(h, 'post', '/v1/blocks', body, undefined, NOW + 1), alice.did)
    // An empty body is the default.
    const e = signRequest(alice, 'GET', '/v1/peers', undefined, NOW)
    assert.equal(verifyRequest(e, 'GET', '/v1/peers', new Uint8Array(0), undefined, NOW), alice.did)
  })

  it('the signature covers method, path (with query), time and body', () => {
    const h = signRequest(alice, 'POST', '/v1/blocks?x=1', body, NOW)
    refused(() => verifyRequest(h, 'PUT', '/v1/blocks?x=1', body, undefined, NOW), 401, 'BAD_SIGNATURE')
    refused(() => verifyRequest(h, 'POST', '/v1/blocks', body, undefined, NOW), 401, 'BAD_SIGNATURE')
    refused(() => verifyRequest(h, 'POST', '/v1/blocks?x=2', body, undefined, NOW), 401, 'BAD_SIGNATURE')
    refused(() => verifyRequest(h, 'POST', '/v1/blocks?x=1', new Uint8Array([...body, 32]), undefined, NOW), 401, 'BAD_SIGNATURE')
    refused(() => verifyRequest({...h, [HEADER_TIME]: String(NOW + 1)}, 'POST', '/v1/blocks?x=1', body, undefined, NOW), 401, 'BAD_SIGNATURE')
    refused(() => verifyRequest({...h, [HEADER_DID]: bob.did}, 'POST', '/v1/blocks?x=1', body, undefined, NOW), 401, 'BAD_SIGNATURE')
  })

  it('property: any change to method, path or body breaks the signature', () => {
    fc.assert(fc.property(
      fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'), fc.string({maxLength: 40}), fc.uint8Array({maxLength: 200}),
      fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'), fc.string({maxLength: 40}), fc.uint8Array({maxLength: 200}),
      (m1, p1, b1, m2, p2, b2) => {
        const h = signRequest(alice, m1, p1, b1, NOW)
        const same = m1 === m2 && p1 === p2 && Buffer.compare(Buffer.from(b1), Buffer.from(b2)) === 0
        let ok: boolean
        try {
          verifyRequest(h, m2, p2, b2, undefined, NOW)
          ok = true
        } catch {
          ok = false
        }
        return ok === same
      },
    ), {numRuns: 200})
  })

  it('missing headers are 401 UNSIGNED; a malformed did or signature 401 BAD_SIGNATURE', () => {
    const h = signRequest(alice, 'POST', '/p', body, NOW)
    for (const k of [HEADER_DID, HEADER_TIME, HEADER_SIG]) {
      const {[k]: _gone, ...rest} = h
      refused(() => verifyRequest(rest, 'POST', '/p', body, undefined, NOW), 401, 'UNSIGNED')
    }
    refused(() => verifyRequest({...h, [HEADER_SIG]: [h[HEADER_SIG], h[HEADER_SIG]]}, 'POST', '/p', body, undefined, NOW), 401, 'UNSIGNED')
    for (const did of ['', 'did:key:', 'did:key:z6Mk', 'did:web:example.com', alice.did + 'x', alice.did.slice(0, -1)]) {
      refused(() => verifyRequest({...h, [HEADER_DID]: did}, 'POST', '/p', body, undefined, NOW), 401, 'BAD_SIGNATURE')
    }
    for (const sig of ['', 'AAAA', Buffer.alloc(64).toString('base64url'), Buffer.alloc(65).toString('base64url'), '!'.repeat(86)]) {
      refused(() => verifyRequest({...h, [HEADER_SIG]: sig}, 'POST', '/p', body, undefined, NOW), 401, 'BAD_SIGNATURE')
    }
  })

  it('only the canonical base64url spelling of a signature is taken', () => {
    const h = signRequest(alice, 'POST', '/p', body, NOW)
    const sig = h[HEADER_SIG]
    const variants = [sig + '=', sig + '==', `${sig.slice(0, 10)}.${sig.slice(10)}`, `${sig.slice(0, 10)}\n${sig.slice(10)}`, Buffer.from(sig, 'base64url').toString('base64')]
    for (const v of variants) {
      if (v === sig) continue
      assert.ok(Buffer.from(v, 'base64url').equals(Buffer.from(sig, 'base64url')), 'the variant decodes to the same bytes')
      refused(() => verifyRequest({...h, [HEADER_SIG]: v}, 'POST', '/p', body, new ReplayGuard(), NOW), 401, 'BAD_SIGNATURE')
    }
  })

  it('a time outside the clock window is 401 STALE_REQUEST, and so is a malformed one', () => {
    for (const skew of [MAX_CLOCK_SKEW_MS + 1, -MAX_CLOCK_SKEW_MS - 1, 365 * 86_400_000]) {
      const h = signRequest(alice, 'POST', '/p', body, NOW + skew)
      refused(() => verifyRequest(h, 'POST', '/p', body, undefined, NOW), 401, 'STALE_REQUEST')
    }
    for (const skew of [MAX_CLOCK_SKEW_MS, -MAX_CLOCK_SKEW_MS, 0]) {
      const h = signRequest(alice, 'POST', '/p', body, NOW + skew)
      assert.equal(verifyRequest(h, 'POST', '/p', body, undefined, NOW), alice.did)
    }
    const h = signRequest(alice, 'POST', '/p', body, NOW)
    for (const time of ['', 'x', '-1', '1.5', '1e12', ' 1', '0x1', '12345678901234567']) {
      refused(() => verifyRequest({...h, [HEADER_TIME]: time}, 'POST', '/p', body, undefined, NOW), 401, 'STALE_REQUEST')
    }
  })

  it('claimedSigner checks the headers alone, before any body', () => {
    const h = signRequest(alice, 'POST', '/p', body, NOW)
    assert.equal(claimedSigner(h, NOW), alice.did)
    // It does not look at the signature: that needs the body.
    assert.equal(claimedSigner({...h, [HEADER_SIG]: 'nonsense'}, NOW), alice.did)
    refused(() => claimedSigner({}, NOW), 401, 'UNSIGNED')
    refused(() => claimedSigner({...h, [HEADER_DID]: 'x'}, NOW), 401, 'BAD_SIGNATURE')
    refused(() => claimedSigner(h, NOW + 10 * 60_000), 401, 'STALE_REQUEST')
  })
})

describe('ReplayGuard', () => {
  it('refuses a signature it has seen, across routes', () => {
    const guard = new ReplayGuard()
    const h = signRequest(alice, 'POST', '/p', body, NOW)
    assert.equal(verifyRequest(h, 'POST', '/p', body, guard, NOW), alice.did)
    refused(() => verifyRequest(h, 'POST', '/p', body, guard, NOW + 1000), 401, 'REPLAYED')
    // Signatures are deterministic (ed25519): the same request at another time is a new signature.
    const h2 = signRequest(alice, 'POST', '/p', body, NOW + 1)
    assert.notEqual(h2[HEADER_SIG], h[HEADER_SIG])
    assert.equal(verifyRequest(h2, 'POST', '/p', body, guard, NOW + 1), alice.did)
  })

  it('a bad signature does not use up a slot in the guard', () => {
    const guard = new ReplayGuard()
    const h = signRequest(alice, 'POST', '/p', body, NOW)
    refused(() => verifyRequest(h, 'POST', '/q', body, guard, NOW), 401, 'BAD_SIGNATURE')
    assert.equal(verifyRequest(h, 'POST', '/p', body, guard, NOW), alice.did)
  })

  it('stays bounded: expired entries go first, then the oldest', () => {
    const guard = new ReplayGuard(3)
    guard.check('a', NOW - 10 * MAX_CLOCK_SKEW_MS)
    guard.check('b', NOW)
    guard.check('c', NOW)
    guard.check('d', NOW) // full: 'a' has expired and goes
    assert.throws(() => guard.check('b', NOW), /already used/)
    assert.throws(() => guard.check('c', NOW), /already used/)
    assert.throws(() => guard.check('d', NOW), /already used/)
    guard.check('a', NOW) // forgotten, but a request that old is stale anyway
    const size = (guard as unknown as {seen: Map<string, number>}).seen.size
    assert.ok(size <= 3, `holds ${size}`)
  })
})

describe('block batch frames', () => {
  const block = (n: number) => {
    const bytes = randomBytes(n)
    return {cid: cidOf(RAW_CODE, bytes), bytes}
  }

  it('round-trips', () => {
    const blocks = [block(0), block(1), block(1000)]
    const out = decodeFrames(encodeFrames(blocks))
    assert.equal(out.length, 3)
    for (let i = 0; i < 3; i++) {
      assert.ok(out[i].cid.equals(blocks[i].cid))
      assert.ok(Buffer.from(out[i].bytes).equals(Buffer.from(blocks[i].bytes)))
    }
    assert.deepEqual(decodeFrames(Buffer.alloc(0)), [])
  })

  it('FrameScanner refuses a block over 2 MiB from its header, whatever the chunking', () => {
    const huge = encodeFrames([{cid: block(1).cid, bytes: Buffer.alloc(MAX_BLOCK_SIZE + 1)}])
    const head = huge.subarray(0, 2 + block(1).cid.bytes.length + 4)
    for (const size of [1, 2, 3, 7, head.length]) {
      const s = new FrameScanner()
      assert.throws(() => {
        for (let i = 0; i < head.length; i += size) s.push(head.subarray(i, i + size))
      }, (err: any) => err.status === 413 && err.code === 'BLOCK_TOO_LARGE', `chunks of ${size}`)
    }
    // Exactly the limit is fine.
    const s = new FrameScanner()
    s.push(encodeFrames([{cid: block(1).cid, bytes: Buffer.alloc(MAX_BLOCK_SIZE)}]))
  })

  it('FrameScanner refuses one block too many and bad CID lengths', () => {
    const s = new FrameScanner()
    assert.throws(() => s.push(encodeFrames(Array.from({length: MAX_BATCH_BLOCKS + 1}, () => block(1)))), (err: any) => err.code === 'TOO_MANY_BLOCKS')
    assert.throws(() => new FrameScanner().push(Uint8Array.of(0, 0)), (err: any) => err.code === 'BAD_FRAME')
    assert.throws(() => new FrameScanner().push(Uint8Array.of(1, 0)), (err: any) => err.code === 'BAD_FRAME')
  })

  it('property: the scanner accepts every well-formed batch, split anywhere, and agrees with decodeFrames on junk', () => {
    fc.assert(fc.property(
      fc.array(fc.integer({min: 0, max: 3000}), {maxLength: 8}), fc.array(fc.integer({min: 1, max: 500}), {minLength: 1, maxLength: 20}),
      (sizes, cuts) => {
        const batch = encodeFrames(sizes.map(block))
        const s = new FrameScanner()
        let at = 0
        for (const c of cuts) {
          s.push(batch.subarray(at, at + c))
          at += c
        }
        s.push(batch.subarray(at))
        return decodeFrames(batch).length === sizes.length
      },
    ), {numRuns: 100})
    fc.assert(fc.property(fc.uint8Array({maxLength: 300}), (junk) => {
      // Whatever the scanner lets through, decodeFrames either decodes or refuses with an HttpError: never anything else.
      try {
        new FrameScanner().push(junk)
      } catch (err) {
        return err instanceof HttpError && err.status < 500
      }
      try {
        decodeFrames(Buffer.from(junk))
      } catch (err) {
        return err instanceof HttpError && err.status < 500
      }
      return true
    }), {numRuns: 500})
  })
})

describe('signed requests are bound to their receiver', () => {
  const nodeA = identityFromSecret('node-a', generateSecretKey())
  const nodeB = identityFromSecret('node-b', generateSecretKey())
  const body = randomBytes(32)

  it('verifies at the node it was signed for', () => {
    const h = signRequest(alice, 'POST', '/v1/blocks', body, NOW, nodeA.did)
    assert.equal(verifyRequest(h, 'POST', '/v1/blocks', body, undefined, NOW, nodeA.did), alice.did)
  })

  it('is refused by any other node (WRONG_RECEIVER), and re-addressing it breaks the signature', () => {
    const h = signRequest(alice, 'POST', '/v1/blocks', body, NOW, nodeA.did)
    refused(() => verifyRequest(h, 'POST', '/v1/blocks', body, undefined, NOW, nodeB.did), 401, 'WRONG_RECEIVER')
    refused(() => verifyRequest({...h, 'x-polar-to': nodeB.did}, 'POST', '/v1/blocks', body, undefined, NOW, nodeB.did), 401, 'BAD_SIGNATURE')
    const unaddressed = signRequest(alice, 'POST', '/v1/blocks', body, NOW)
    refused(() => verifyRequest(unaddressed, 'POST', '/v1/blocks', body, undefined, NOW, nodeA.did), 401, 'WRONG_RECEIVER')
  })
})
