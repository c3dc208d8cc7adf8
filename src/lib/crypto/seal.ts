import {randomBytes} from 'node:crypto'
import {IntegrityError, InputError} from '../errors.js'
import {aeadOpen, aeadSeal, hkdf} from './aead.js'
import {KEY_SIZE, LABEL, MAX_SEALED_SIZE, NONCE_SIZE, SEALED_VERSION, TAG_SIZE} from './constants.js'

/**
 * Small sealed data under a content key: what a private object's record
 * carries instead of its name, media type and tags (issue 18), readable by
 * exactly those who hold the object's key.
 *
 *   version 0x01 ‖ nonce (12 random bytes) ‖ AEAD(HKDF(key, "polar-sealed-v1/" ‖ purpose), nonce, data)
 *
 * The purpose ("metadata", …) is part of the key derivation, so a blob sealed
 * for one purpose never opens as another, and none opens as a STREAM chunk.
 * A key seals a handful of blobs in its life; random 96-bit nonces are safe
 * far beyond that.
 */
const PURPOSE = /^[a-z0-9][a-z0-9._-]{0,63}$/
const OVERHEAD = 1 + NONCE_SIZE + TAG_SIZE

function sealKey(contentKey: Uint8Array, purpose: string): Uint8Array {
  if (!PURPOSE.test(purpose)) throw new InputError(`bad seal purpose ${JSON.stringify(purpose)}: 1-64 of [a-z0-9._-]`)
  if (!(contentKey instanceof Uint8Array) || contentKey.length !== KEY_SIZE) throw new InputError(`a content key is ${KEY_SIZE} bytes`, {code: 'BAD_KEY'})
  return hkdf(contentKey, LABEL.sealed + purpose, KEY_SIZE)
}

/** `data` sealed under `contentKey` for `purpose`; `nonce` only for known-answer tests (crypto/testing.ts). */
export function seal(contentKey: Uint8Array, purpose: string, data: Uint8Array, nonce: Uint8Array = randomBytes(NONCE_SIZE)): Uint8Array {
  if (data.length + OVERHEAD > MAX_SEALED_SIZE) throw new InputError(`sealed data is at most ${MAX_SEALED_SIZE - OVERHEAD} bytes, got ${data.length}`)
  return Buffer.concat([Uint8Array.of(SEALED_VERSION), nonce, aeadSeal(sealKey(contentKey, purpose), nonce, data)])
}

/** The data of a sealed blob; IntegrityError when it was altered, sealed for another purpose, or under another key. */
export function unseal(contentKey: Uint8Array, purpose: string, sealed: Uint8Array): Uint8Array {
  const key = sealKey(contentKey, purpose)
  if (!(sealed instanceof Uint8Array) || sealed.length < OVERHEAD || sealed.length > MAX_SEALED_SIZE) throw new IntegrityError(`sealed data of ${sealed?.length} bytes: not ${OVERHEAD}..${MAX_SEALED_SIZE}`)
  if (sealed[0] !== SEALED_VERSION) throw new IntegrityError(`sealed data version ${sealed[0]}: this polar reads version ${SEALED_VERSION}`, {code: 'UNSUPPORTED_VERSION'})
  const data = aeadOpen(key, sealed.subarray(1, 1 + NONCE_SIZE), sealed.subarray(1 + NONCE_SIZE))
  if (!data) throw new IntegrityError(`sealed ${purpose} does not verify: altered, or not sealed under this key`)
  return new Uint8Array(data)
}
