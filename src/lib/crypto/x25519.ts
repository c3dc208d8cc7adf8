import {createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject} from 'node:crypto'
import {ed25519} from '@noble/curves/ed25519.js'
import {InputError} from '../errors.js'
import {publicKeyFromDid, secretKeyOf, type Identity} from '../identity/index.js'

/**
 * X25519 keys (RFC 7748) of polar's ed25519 identities, so a did:key is also
 * an encryption address, as in age's ssh-ed25519 recipients and libsodium's
 * crypto_sign_ed25519_pk_to_curve25519. The birational map from Edwards to
 * Montgomery form is @noble/curves' (audited, maintained); the
 * Diffie-Hellman itself is node:crypto's (OpenSSL), which refuses a
 * low-order peer key (an all-zero shared secret) and is about ten times
 * faster than JavaScript, which matters to a decrypter trying every stanza
 * against every local key.
 */
export interface X25519KeyPair {
  readonly publicKey: Uint8Array
  readonly privateKey: KeyObject
}

// DER of RFC 8410 SubjectPublicKeyInfo / PrivateKeyInfo for id-X25519 (1.3.101.110), before the 32 key bytes.
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex')
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex')

function privateKeyObject(secret: Uint8Array): KeyObject {
  return createPrivateKey({key: Buffer.concat([PKCS8_PREFIX, secret]), format: 'der', type: 'pkcs8'})
}

function rawPublic(key: KeyObject): Uint8Array {
  return new Uint8Array(key.export({format: 'der', type: 'spki'}).subarray(SPKI_PREFIX.length))
}

/**
 * The X25519 public key a did can receive at. InputError for a did that is
 * not a usable ed25519 key: not a curve point, or of small order (every
 * shared secret with it would be known to all).
 */
export function recipientKeyOfDid(did: string): Uint8Array {
  const edPublic = publicKeyFromDid(did)
  let point
  try {
    point = ed25519.Point.fromBytes(edPublic)
  } catch {
    throw new InputError(`${did} is not a valid ed25519 public key (not a curve point): it cannot receive encrypted data`, {code: 'BAD_RECIPIENT'})
  }
  if (point.isSmallOrder()) throw new InputError(`${did} is a small-order ed25519 key: it cannot receive encrypted data`, {code: 'BAD_RECIPIENT'})
  return ed25519.utils.toMontgomery(edPublic)
}

/** The X25519 key pair of a local identity. */
export function keyPairOfIdentity(identity: Identity): X25519KeyPair {
  const privateKey = privateKeyObject(ed25519.utils.toMontgomerySecret(secretKeyOf(identity)))
  return {privateKey, publicKey: ed25519.utils.toMontgomery(identity.publicKey)}
}

/** A fresh ephemeral key pair; `secret` only for known-answer tests (crypto/testing.ts). */
export function ephemeralKeyPair(secret?: Uint8Array): X25519KeyPair {
  const privateKey = secret ? privateKeyObject(secret) : generateKeyPairSync('x25519').privateKey
  return {privateKey, publicKey: rawPublic(createPublicKey(privateKey))}
}

/** X25519(private, public), or undefined when the public key is of low order (OpenSSL refuses the all-zero result). */
export function sharedSecret(privateKey: KeyObject, publicKey: Uint8Array): Uint8Array | undefined {
  try {
    const peer = createPublicKey({key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki'})
    return new Uint8Array(diffieHellman({privateKey, publicKey: peer}))
  } catch {
    return undefined
  }
}
