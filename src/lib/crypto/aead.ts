import {createCipheriv, createDecipheriv, hkdfSync} from 'node:crypto'
import {NONCE_SIZE, TAG_SIZE} from './constants.js'

/**
 * The one AEAD of envelope format v1, from node:crypto (OpenSSL): every
 * chunk, stanza and sealed blob uses it. ChaCha20-Poly1305 (RFC 8439) was
 * measured against AES-256-GCM on this project's machine
 * (bench/tools/crypto-throughput.mjs, docs/architecture.md): node:crypto runs
 * it in OpenSSL's assembly, well above 1 GB/s on one core, where a
 * JavaScript AEAD (@noble/ciphers) manages a few hundred MB/s.
 */
export const AEAD = 'chacha20-poly1305'

/** ciphertext ‖ tag of `plaintext` under (key, nonce). A (key, nonce) pair must never seal two messages. */
export function aeadSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Buffer {
  const cipher = createCipheriv(AEAD, key, nonce, {authTagLength: TAG_SIZE})
  const body = cipher.update(plaintext)
  cipher.final()
  return Buffer.concat([body, cipher.getAuthTag()], body.length + TAG_SIZE)
}

/**
 * The plaintext of `sealed` (ciphertext ‖ tag), or undefined when it does not
 * authenticate. No byte of an unauthenticated plaintext is ever returned.
 */
export function aeadOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array): Buffer | undefined {
  if (sealed.length < TAG_SIZE || nonce.length !== NONCE_SIZE) return undefined
  const decipher = createDecipheriv(AEAD, key, nonce, {authTagLength: TAG_SIZE})
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_SIZE))
  const body = decipher.update(sealed.subarray(0, sealed.length - TAG_SIZE))
  try {
    decipher.final()
  } catch {
    return undefined
  }
  return body
}

const EMPTY = new Uint8Array(0)

/** HKDF-SHA256 (RFC 5869) with an empty salt: every input key here is uniformly random or an X25519 output. */
export function hkdf(ikm: Uint8Array, info: Uint8Array | string, length: number): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', ikm, EMPTY, typeof info === 'string' ? Buffer.from(info, 'utf8') : info, length))
}
