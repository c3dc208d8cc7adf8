import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {newContentKey, seal, unseal, signData, verifyData, signingMessage, parseSignature, formatSignature} from '../../src/lib/crypto/index.js'
import {SIGN_PREFIX} from '../../src/lib/crypto/constants.js'
import {IntegrityError, InputError} from '../../src/lib/errors.js'
import {generateSecretKey, identityFromSecret, verifySignature} from '../../src/lib/identity/index.js'

describe('sealed data (a private object\'s name, media type and tags)', () => {
  const key = newContentKey()
  const meta = Buffer.from(JSON.stringify({name: 'report.pdf', mime: 'application/pdf', tags: ['q3']}))

  it('round-trips, with a fresh nonce each time', () => {
    const a = seal(key, 'metadata', meta)
    const b = seal(key, 'metadata', meta)
    assert.notDeepEqual(a, b)
    assert.deepEqual(Buffer.from(unseal(key, 'metadata', a)), meta)
    assert.equal(unseal(key, 'metadata', seal(key, 'metadata', new Uint8Array(0))).length, 0)
  })

  it('refuses another key, another purpose, any flipped bit, a cut, another version', () => {
    const s = seal(key, 'metadata', meta)
    const refused = (fn: () => unknown) => assert.throws(fn, (err: unknown) => err instanceof IntegrityError && err.exit === 4)
    refused(() => unseal(newContentKey(), 'metadata', s))
    refused(() => unseal(key, 'names', s))
    for (let at = 0; at < s.length; at++) {
      const t = Uint8Array.from(s)
      t[at] ^= 0x80
      refused(() => unseal(key, 'metadata', t))
    }
    refused(() => unseal(key, 'metadata', s.subarray(0, s.length - 1)))
    refused(() => unseal(key, 'metadata', s.subarray(0, 10)))
  })

  it('bounds sizes and purposes', () => {
    assert.throws(() => seal(key, 'metadata', new Uint8Array(64 * 1024)), InputError)
    assert.throws(() => seal(key, 'Meta Data', meta), InputError)
    assert.throws(() => seal(new Uint8Array(16), 'metadata', meta), InputError)
    assert.throws(() => unseal(key, 'metadata', new Uint8Array(70_000)), IntegrityError)
  })
})

describe('signatures over data (issue 16: sign / verify for services)', () => {
  const me = identityFromSecret('me', generateSecretKey())
  const other = identityFromSecret('other', generateSecretKey())
  const data = Buffer.from('a message for a service')

  async function * pieces(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < data.length; i += 5) yield data.subarray(i, i + 5)
  }

  it('verifies for the signer, over the same bytes, in the same context; streamed or whole', async () => {
    const sig = await signData(me, data)
    assert.equal(sig.length, 64)
    assert.ok(await verifyData(me.did, data, sig))
    assert.ok(await verifyData(me.did, pieces(), sig))
    assert.deepEqual(await signData(me, pieces()), sig, 'ed25519 is deterministic: same bytes, same signature')
    assert.equal(await verifyData(other.did, data, sig), false)
    assert.equal(await verifyData(me.did, Buffer.concat([data, Buffer.from('!')]), sig), false)
    assert.equal(await verifyData(me.did, data, sig, {context: 'chat'}), false)
    const ctx = await signData(me, data, {context: 'chat'})
    assert.ok(await verifyData(me.did, data, ctx, {context: 'chat'}))
    assert.equal(await verifyData(me.did, data, ctx, {context: 'pay'}), false)
    assert.equal(await verifyData(me.did, data, ctx), false)
    const bad = Uint8Array.from(sig)
    bad[10] ^= 1
    assert.equal(await verifyData(me.did, data, bad), false)
    assert.equal(await verifyData('did:key:nonsense', data, sig), false)
  })

  it('cannot pass for a record or request signature: what is signed starts with its own prefix', async () => {
    const message = signingMessage(new Uint8Array(64), 'ctx')
    assert.equal(Buffer.from(message.subarray(0, SIGN_PREFIX.length)).toString(), 'polar-sign-v1\n')
    // The prefixes of every message polar signs (records/signed.ts, records/peer-record.ts, net/auth.ts):
    // none is a prefix of another, so no signed message of one kind is a message of another kind.
    const prefixes = ['polar-record-v1\n', 'polar-peer-record-v1\n', 'polar-request-v2\n', SIGN_PREFIX]
    for (const a of prefixes) for (const b of prefixes) if (a !== b) assert.ok(!b.startsWith(a), `${JSON.stringify(a)} starts ${JSON.stringify(b)}`)
    // And the signature over data D is not a plain ed25519 signature of D (a record's signer signs its bytes plainly after its prefix).
    const sig = await signData(me, data)
    assert.equal(verifySignature(me.did, data, sig), false)
  })

  it('a context is at most 255 bytes; a bad one fails before the data is read', async () => {
    let read = false
    async function * source(): AsyncGenerator<Uint8Array> { read = true; yield data }
    await assert.rejects(signData(me, source(), {context: 'x'.repeat(256)}), InputError)
    assert.equal(read, false)
    assert.ok(await signData(me, data, {context: 'é'.repeat(127)}))
  })

  it('parses the signatures it prints; malformed ones are InputError (exit 2)', async () => {
    const sig = await signData(me, data)
    const text = formatSignature(sig)
    assert.match(text, /^[A-Za-z0-9+/]{86}==$/)
    assert.deepEqual(parseSignature(text), sig)
    assert.deepEqual(parseSignature(` ${text}\n`), sig)
    assert.deepEqual(parseSignature(Buffer.from(sig).toString('base64url')), sig)
    for (const bad of ['', 'abc', text.slice(0, -4), text + 'AAAA', '*' + text.slice(1), '!'.repeat(88)]) {
      assert.throws(() => parseSignature(bad), (err: unknown) => err instanceof InputError && err.code === 'BAD_INPUT', bad)
    }
  })
})
