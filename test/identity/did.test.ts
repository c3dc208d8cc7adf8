import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {base58btc} from 'multiformats/bases/base58'
import {didFromPublicKey, isDid, publicKeyFromDid} from '../../src/lib/identity/did.js'
import {identityFromSecret, verifySignature} from '../../src/lib/identity/keys.js'
import {InputError} from '../../src/lib/errors.js'

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'))

// W3C CCG did:key test vectors (w3c-ccg/did-method-key, test-vectors/ed25519-x25519.json):
// the ed25519 key from a 32-byte seed (= RFC 8032 secret key).
const W3C = [
  {seed: '00'.repeat(32), did: 'did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp', publicKeyBase58: '4zvwRjXUKGfvwnParsHAS3HuSVzV5cA4McphgmoCtajS'},
  {seed: '00'.repeat(31) + '01', did: 'did:key:z6MkjchhfUsD6mmvni8mCdXHw216Xrm9bQe2mBH1P5RDjVJG', publicKeyBase58: '6ASf5EcmmEHTgDJ4X4ZT5vT6iHVJBXPg5AN5YoTCpGWt'},
  {seed: '00'.repeat(31) + '02', did: 'did:key:z6MknGc3ocHs3zdPiJbnaaqDi58NGb4pk1Sp9WxWufuXSdxf', publicKeyBase58: '8pM1DN3RiT8vbom5u1sNryaNT1nyL8CTTW3b5PwWXRBH'},
]

// RFC 8032 section 7.1, TEST 1 (empty message).
const RFC8032 = {
  secret: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
  public: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
  signature: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
}

describe('did:key (ed25519)', () => {
  for (const v of W3C) {
    it(`matches the W3C vector ${v.did.slice(0, 24)}…`, () => {
      const id = identityFromSecret('t', hex(v.seed))
      assert.equal(id.did, v.did)
      // The raw public key is base58btc without the multibase 'z' in the vector.
      assert.equal(base58btc.encode(id.publicKey).slice(1), v.publicKeyBase58)
      assert.equal(didFromPublicKey(id.publicKey), v.did)
      assert.deepEqual(publicKeyFromDid(v.did), id.publicKey)
    })
  }

  it('derives RFC 8032 TEST 1 keys and signature, and encodes 0xed 0x01 + key in base58btc', () => {
    const id = identityFromSecret('t', hex(RFC8032.secret))
    assert.equal(Buffer.from(id.publicKey).toString('hex'), RFC8032.public)
    assert.equal(Buffer.from(id.sign(new Uint8Array(0))).toString('hex'), RFC8032.signature)
    assert.ok(id.did.startsWith('did:key:z6Mk'))
    const decoded = base58btc.decode(id.did.slice('did:key:'.length))
    assert.deepEqual([...decoded.subarray(0, 2)], [0xed, 0x01])
    assert.equal(Buffer.from(decoded.subarray(2)).toString('hex'), RFC8032.public)
    assert.ok(verifySignature(id.did, new Uint8Array(0), hex(RFC8032.signature)))
  })

  it('round-trips random keys', () => {
    for (let i = 0; i < 50; i++) {
      const key = Uint8Array.from(Buffer.from(Array.from({length: 32}, (_, j) => (i * 37 + j * 101) & 0xff)))
      const did = didFromPublicKey(key)
      assert.ok(did.startsWith('did:key:z6Mk'))
      assert.deepEqual(publicKeyFromDid(did), key)
      assert.ok(isDid(did))
    }
  })

  it('rejects malformed dids with InputError', () => {
    const good = W3C[0].did
    const wrongCodec = 'did:key:' + base58btc.encode(Uint8Array.of(0xe7, 0x01, ...new Uint8Array(33).fill(2))) // secp256k1-pub
    const x25519 = 'did:key:' + base58btc.encode(Uint8Array.of(0xec, 0x01, ...new Uint8Array(32).fill(3)))
    const short = 'did:key:' + base58btc.encode(Uint8Array.of(0xed, 0x01, ...new Uint8Array(31)))
    const long = 'did:key:' + base58btc.encode(Uint8Array.of(0xed, 0x01, ...new Uint8Array(33)))
    const bad = [
      '', 'did:key:', 'did:key:z', 'did:web:example.com', 'did:key:' + good.slice(9), // no multibase prefix
      good.replace('did:key:z', 'did:key:m'), // base64 multibase
      good.slice(0, -1) + '0', // '0' is not in the base58 alphabet
      good + 'x', good.slice(0, -2), 'DID:KEY:' + good.slice(8), ' ' + good, good + '\n',
      wrongCodec, x25519, short, long, 'did:key:z' + 'a'.repeat(200),
    ]
    for (const d of bad) {
      assert.throws(() => publicKeyFromDid(d), InputError, JSON.stringify(d))
      assert.equal(isDid(d), false, JSON.stringify(d))
    }
    for (const d of [undefined, null, 42, {}] as unknown[]) assert.throws(() => publicKeyFromDid(d as string), InputError)
    assert.throws(() => didFromPublicKey(new Uint8Array(31)), InputError)
    assert.throws(() => didFromPublicKey(new Uint8Array(33)), InputError)
  })
})

describe('signatures', () => {
  it('verify only for the signer, the message and an intact signature; never throw', () => {
    const a = identityFromSecret('a', hex(W3C[0].seed))
    const b = identityFromSecret('b', hex(W3C[1].seed))
    const msg = new TextEncoder().encode('polar')
    const sig = a.sign(msg)
    assert.equal(sig.length, 64)
    assert.ok(verifySignature(a.did, msg, sig))
    assert.equal(verifySignature(b.did, msg, sig), false)
    assert.equal(verifySignature(a.did, new TextEncoder().encode('polaR'), sig), false)
    for (let i = 0; i < 64; i += 7) {
      const bad = sig.slice()
      bad[i] ^= 0x10
      assert.equal(verifySignature(a.did, msg, bad), false)
    }
    assert.equal(verifySignature(a.did, msg, sig.slice(0, 63)), false)
    assert.equal(verifySignature('did:key:nonsense', msg, sig), false)
    assert.equal(verifySignature(a.did, msg, 'x'.repeat(64) as unknown as Uint8Array), false)
  })
})
