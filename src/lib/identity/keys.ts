import * as ed from '@noble/ed25519'
import {createHash} from 'node:crypto'
import {publicKeyFromDid, didFromPublicKey} from './did.js'

// @noble/ed25519 v3 needs a sync sha512 for its sync API; node's is native.
ed.hashes.sha512 = (message: Uint8Array) => new Uint8Array(createHash('sha512').update(message).digest())

/** An ed25519 identity: the secret key never leaves POLAR_HOME/keys. */
export interface Identity {
  readonly name: string
  readonly did: string
  readonly publicKey: Uint8Array
  sign(message: Uint8Array): Uint8Array
}

/**
 * The secret behind each identity, kept off the object so that logging or
 * serialising an Identity can never print it. Only src/lib/crypto reads it,
 * to derive the identity's X25519 key (secretKeyOf).
 */
const secrets = new WeakMap<Identity, Uint8Array>()

export function identityFromSecret(name: string, secretKey: Uint8Array): Identity {
  const publicKey = ed.getPublicKey(secretKey)
  const did = didFromPublicKey(publicKey)
  const identity: Identity = {
    name,
    did,
    publicKey,
    sign: (message) => ed.sign(message, secretKey),
  }
  secrets.set(identity, secretKey)
  return identity
}

/** The 32-byte ed25519 secret of an identity made by identityFromSecret (for src/lib/crypto's X25519 key). */
export function secretKeyOf(identity: Identity): Uint8Array {
  const secret = secrets.get(identity)
  if (!secret) throw new TypeError(`identity "${identity.name}" was not made by identityFromSecret: it has no secret key here`)
  return secret
}

export function generateSecretKey(): Uint8Array {
  return ed.utils.randomSecretKey()
}

/** Verifies an ed25519 signature by the key a did:key names. Never throws on bad input. */
export function verifySignature(did: string, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    if (!(signature instanceof Uint8Array) || signature.length !== 64) return false
    return ed.verify(signature, message, publicKeyFromDid(did))
  } catch {
    return false
  }
}
