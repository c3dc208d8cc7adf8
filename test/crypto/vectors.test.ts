// Known-answer vectors: fixed keys, ephemerals and nonces (src/lib/crypto/testing.ts), so
// the envelope format (docs/protocol.md "Envelope and sealed data") cannot drift silently.
// A failure here means the bytes polar writes changed: that is a new format VERSION, not a
// test to update.
import assert from 'node:assert/strict'
import {createDecipheriv, createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman, hkdfSync} from 'node:crypto'
import {readdirSync, readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {base58btc} from 'multiformats/bases/base58'
import {decryptEnvelope, openHeader, signData, unseal, verifyData} from '../../src/lib/crypto/index.js'
import {envelopeWith, headerWith, sealWith} from '../../src/lib/crypto/testing.js'
import {keyPairOfIdentity, recipientKeyOfDid, sharedSecret} from '../../src/lib/crypto/x25519.js'
import {identityFromSecret, verifySignature} from '../../src/lib/identity/index.js'
import {ROOT} from '../helpers.js'

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'))
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex')

// W3C CCG did:key test vectors (w3c-ccg/did-method-key, test-vectors/ed25519-x25519.json): the
// X25519 key-agreement key of each ed25519 did, derived as libsodium's
// crypto_sign_ed25519_{pk,sk}_to_curve25519 do.
const W3C = [
  {seed: '00'.repeat(32), did: 'did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp', x25519Public: '7By6kV2t2d188odEM4ExAve1UithKT6dLva4dwsDT3ak', x25519Private: '6QN8DfuN9hjgHgPvLXqgzqYE3jRRGRrmJQZkd5tL8paR'},
  {seed: '00'.repeat(31) + '01', did: 'did:key:z6MkjchhfUsD6mmvni8mCdXHw216Xrm9bQe2mBH1P5RDjVJG', x25519Public: 'FcoNC5NqP9CePWbhfz95iHaEsCjGkZUioK9Ck7Qiw286', x25519Private: 'HBTcN2MrXNRj9xF9oi8QqYyuEPv3JLLjQKuEgW9oxVKP'},
  {seed: '00'.repeat(31) + '02', did: 'did:key:z6MknGc3ocHs3zdPiJbnaaqDi58NGb4pk1Sp9WxWufuXSdxf', x25519Public: 'A5fe37PAxhX5WNKngBpGHhC1KpNE7nwbK9oX2tqwxYxU', x25519Private: 'ACa4PPJ1LnPNq1iwS33V3Akh7WtnC71WkKFZ9ccM6sX2'},
]
const b58 = (s: string) => base58btc.decode('z' + s)

const alice = identityFromSecret('alice', hex(W3C[0].seed))
const bob = identityFromSecret('bob', hex(W3C[1].seed))
const KEY = Uint8Array.from({length: 32}, (_, i) => i)
const EPHEMERALS = [new Uint8Array(32).fill(0x42), new Uint8Array(32).fill(0x43)]

// "hello, polar\n" for alice: the whole envelope, byte for byte.
const SMALL = '706f6c6172656e63010001132c442be010fbd57e72603328aa76e71fccc1503aae219327d14d9c9993f472d52858916c88bd2c19e1222caf3113817feac71360af913b421fa0d252446eb2ff81a01139642c6dd2e9ea895d0d913a7a028cfa40369bc1f8c2edabf0d1ec4582d3bd056de1a433906bbd3f76ea1e0036e2807d6656ceb313119327549544191d51161763677a5b9b9cb58e73'
// A two-chunk plaintext (1048563 bytes, byte i = 31 i mod 256) for alice and bob.
const BIG_HEADER = '706f6c6172656e63010002132c442be010fbd57e72603328aa76e71fccc1503aae219327d14d9c9993f472d52858916c88bd2c19e1222caf3113817feac71360af913b421fa0d252446eb2ff81a01139642c6dd2e9ea895d0d913acdefd8783a91b446640e2e1f95599db35e484a0071bd2182b3b60d0812c10c70cf134125c7a8f96ecafabfa6d3aa6dc6c3c6672d3aaa81415ea9c8cab75c624ffd53a05a0acad979dad0b8a2e39f546b10285b99646d3bbb80b177a35ec5386e0f828694d19bba5467152a65095d9394'
const BIG_SHA256 = '395db9885f5a6a9030355b8f01f1646713f25ec82d6bb3aca97d486737a095bd'
const BIG = Uint8Array.from({length: 1048560 + 3}, (_, i) => (i * 31) & 0xff)
// seal(KEY, "metadata", '{"name":"report.pdf"}') with the nonce 07…07.
const SEALED = '01070707070707070707070707547d43d9a4969a70f89afc56e6d5e01d8bc741a156ec0cbcbffd9100a2ddeda3ea36aacfbd'
// polar sign of "hello, polar\n" by the RFC 8032 TEST 1 key, without and with --context shop.orders.
const RFC8032_SECRET = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'
const SIG = 'qCsuKGN+5S11Y/3YA6DJ6mIzWDi4xUepbYubotEm8d2ri+cMbThsMW/Q7cp41cNSeEcG45hXZhKvUHlkJhcRAA=='
const SIG_CTX = '+fVJqAydI1ijvCD5rU0CI5EC+Azpg9lPM/RW6wPElE9HMqFzWm0xtTJJiivcqL+vizn/w4CbkiyGY+nyCWo6AA=='

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const p of source) parts.push(p)
  return Buffer.concat(parts)
}
async function * once(b: Uint8Array): AsyncGenerator<Uint8Array> { yield b }

describe('known-answer vectors', () => {
  it('X25519 keys of ed25519 dids match the W3C did:key vectors', () => {
    for (const v of W3C) {
      const id = identityFromSecret('v', hex(v.seed))
      assert.equal(id.did, v.did)
      assert.equal(toHex(recipientKeyOfDid(v.did)), toHex(b58(v.x25519Public)))
      const pair = keyPairOfIdentity(id)
      assert.equal(toHex(pair.publicKey), toHex(b58(v.x25519Public)))
      const secret = pair.privateKey.export({format: 'der', type: 'pkcs8'}).subarray(-32)
      assert.equal(toHex(secret), toHex(b58(v.x25519Private)))
    }
  })

  it('X25519 itself: RFC 7748 section 6.1', () => {
    const a = createPrivateKey({key: Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a')]), format: 'der', type: 'pkcs8'})
    const bobPublic = hex('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f')
    assert.equal(toHex(sharedSecret(a, bobPublic)!), '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742')
    assert.equal(sharedSecret(a, new Uint8Array(32)), undefined, 'a low-order point gives no secret')
  })

  it('the envelope of "hello, polar\\n" for alice, byte for byte; alice opens it', async () => {
    const env = await envelopeWith(KEY, [alice.did], [EPHEMERALS[0]], Buffer.from('hello, polar\n'))
    assert.equal(toHex(env), SMALL)
    const opened = await decryptEnvelope(once(hex(SMALL)), [bob, alice])
    assert.equal((await collect(opened.plaintext)).toString(), 'hello, polar\n')
  })

  it('a two-chunk envelope for alice and bob: header byte for byte, the rest by hash; both open it', async () => {
    assert.equal(toHex(headerWith(KEY, [alice.did, bob.did], EPHEMERALS)), BIG_HEADER)
    const env = await envelopeWith(KEY, [alice.did, bob.did], EPHEMERALS, BIG)
    assert.equal(env.length, 43 + 160 + BIG.length + 2 * 16)
    assert.equal(createHash('sha256').update(env).digest('hex'), BIG_SHA256)
    for (const me of [alice, bob]) assert.ok((await collect((await decryptEnvelope(once(env), [me])).plaintext)).equals(BIG))
  })

  it('docs/protocol.md\'s formulas, computed here with node:crypto alone, open the vector', () => {
    // Stanza: wrap key = HKDF-SHA256(X25519(alice, e.pub), salt = "", info = label ‖ e.pub ‖ alice's X25519 public key).
    const env = hex(SMALL)
    const ephemeralPublic = env.subarray(11, 43)
    const me = keyPairOfIdentity(alice)
    const shared = diffieHellman({privateKey: me.privateKey, publicKey: createPublicKey({key: Buffer.concat([Buffer.from('302a300506032b656e032100', 'hex'), ephemeralPublic]), format: 'der', type: 'spki'})})
    const wrapKey = Buffer.from(hkdfSync('sha256', shared, Buffer.alloc(0), Buffer.concat([Buffer.from('polar-envelope-v1/x25519\n'), ephemeralPublic, me.publicKey]), 32))
    const open = (key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array) => {
      const d = createDecipheriv('chacha20-poly1305', key, nonce, {authTagLength: 16})
      d.setAuthTag(sealed.subarray(sealed.length - 16))
      const out = d.update(sealed.subarray(0, sealed.length - 16))
      d.final()
      return out
    }
    assert.deepEqual([...open(wrapKey, new Uint8Array(12), env.subarray(43, 91))], [...KEY])
    // Header MAC: HMAC-SHA256(HKDF(key, info "polar-envelope-v1/header"), bytes before it).
    const macKey = Buffer.from(hkdfSync('sha256', KEY, Buffer.alloc(0), 'polar-envelope-v1/header', 32))
    assert.equal(toHex(createHmac('sha256', macKey).update(env.subarray(0, 91)).digest()), toHex(env.subarray(91, 123)))
    // Payload: key and nonce prefix by HKDF from the content key; nonce = prefix(7) ‖ uint32 BE counter ‖ 0x01 for the last chunk.
    const streamKey = Buffer.from(hkdfSync('sha256', KEY, Buffer.alloc(0), 'polar-stream-v1/key', 32))
    const prefix = Buffer.from(hkdfSync('sha256', KEY, Buffer.alloc(0), 'polar-stream-v1/nonce', 7))
    const nonce = Buffer.concat([prefix, Buffer.from([0, 0, 0, 0, 1])])
    assert.equal(open(streamKey, nonce, env.subarray(123)).toString(), 'hello, polar\n')
    // Sealed: version ‖ nonce ‖ AEAD(HKDF(key, "polar-sealed-v1/" ‖ purpose)).
    const sealed = hex(SEALED)
    const sealKey = Buffer.from(hkdfSync('sha256', KEY, Buffer.alloc(0), 'polar-sealed-v1/metadata', 32))
    assert.equal(open(sealKey, sealed.subarray(1, 13), sealed.subarray(13)).toString(), '{"name":"report.pdf"}')
  })

  it('sealed metadata, byte for byte', () => {
    assert.equal(toHex(sealWith(KEY, 'metadata', Buffer.from('{"name":"report.pdf"}'), new Uint8Array(12).fill(7))), SEALED)
    assert.equal(Buffer.from(unseal(KEY, 'metadata', hex(SEALED))).toString(), '{"name":"report.pdf"}')
  })

  it('data signatures of the RFC 8032 TEST 1 key, with and without a context', async () => {
    const rfc = identityFromSecret('rfc', hex(RFC8032_SECRET))
    const data = Buffer.from('hello, polar\n')
    assert.equal(Buffer.from(await signData(rfc, data)).toString('base64'), SIG)
    assert.equal(Buffer.from(await signData(rfc, data, {context: 'shop.orders'})).toString('base64'), SIG_CTX)
    assert.ok(await verifyData(rfc.did, data, Buffer.from(SIG, 'base64')))
    // Anyone can check it from the documented bytes: "polar-sign-v1\n" ‖ len(context) ‖ context ‖ SHA-512(data).
    const message = Buffer.concat([Buffer.from('polar-sign-v1\n'), Buffer.from([11]), Buffer.from('shop.orders'), createHash('sha512').update(data).digest()])
    assert.ok(verifySignature(rfc.did, message, Buffer.from(SIG_CTX, 'base64')))
  })

  it('the envelope opens only with the header it was made with (openHeader on the vector)', () => {
    const header = hex(BIG_HEADER)
    assert.deepEqual([...openHeader(header, [bob]).contentKey], [...KEY])
  })

  it('production code never imports the test-only entry point', () => {
    const walk = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? walk(join(dir, f)) : [join(dir, f)]))
    const importers = walk(join(ROOT, 'src')).filter((f) => !f.endsWith('crypto/testing.ts') && /crypto\/testing(\.js)?['"]|['"]\.\/testing(\.js)?['"]/.test(readFileSync(f, 'utf8')))
    assert.deepEqual(importers, [])
  })
})
