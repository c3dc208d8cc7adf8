import {base58btc} from 'multiformats/bases/base58'
import {InputError} from '../errors.js'

/**
 * did:key for ed25519 (W3C did:key method): "did:key:" + multibase base58btc
 * ("z") of the multicodec ed25519-pub varint (0xed 0x01) followed by the
 * 32-byte public key. Always starts "did:key:z6Mk".
 */
const ED25519_PUB_PREFIX = Uint8Array.of(0xed, 0x01)
export const DID_KEY_PREFIX = 'did:key:'

export function didFromPublicKey(publicKey: Uint8Array): string {
  if (publicKey.length !== 32) throw new InputError(`an ed25519 public key is 32 bytes, got ${publicKey.length}`)
  const bytes = new Uint8Array(34)
  bytes.set(ED25519_PUB_PREFIX, 0)
  bytes.set(publicKey, 2)
  return DID_KEY_PREFIX + base58btc.encode(bytes)
}

export function publicKeyFromDid(did: string): Uint8Array {
  if (typeof did !== 'string' || !did.startsWith(DID_KEY_PREFIX + 'z') || did.length > 64) {
    throw new InputError(`not an ed25519 did:key: ${JSON.stringify(String(did).slice(0, 80))} (expected did:key:z6Mk…)`)
  }
  let bytes: Uint8Array
  try {
    bytes = base58btc.decode(did.slice(DID_KEY_PREFIX.length))
  } catch {
    throw new InputError(`not an ed25519 did:key: ${did} (bad base58btc)`)
  }
  if (bytes.length !== 34 || bytes[0] !== 0xed || bytes[1] !== 0x01) {
    throw new InputError(`not an ed25519 did:key: ${did} (wrong multicodec or length)`)
  }
  return bytes.slice(2)
}

export function isDid(value: string): boolean {
  try {
    publicKeyFromDid(value)
    return true
  } catch {
    return false
  }
}
