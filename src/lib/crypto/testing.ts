/**
 * Test-only entry point: the envelope with every random choice fixed, for
 * the known-answer vectors in test/crypto/ that pin the format (a change to
 * any byte of it fails them). Production code never imports this file
 * (test/crypto/vectors.test.ts checks): a fixed ephemeral or nonce reused
 * for real data would give the key away.
 */
import {encodeHeader} from './header.js'
import {seal} from './seal.js'
import {encryptStream} from './stream.js'

/** The header with these ephemeral secrets (one per recipient, in order, stanzas not shuffled). */
export function headerWith(contentKey: Uint8Array, dids: string[], ephemeralSecrets: Uint8Array[]): Uint8Array {
  return encodeHeader(contentKey, dids, {ephemeralSecrets})
}

/** A whole envelope of `plaintext` under a fixed content key and ephemerals. */
export async function envelopeWith(contentKey: Uint8Array, dids: string[], ephemeralSecrets: Uint8Array[], plaintext: Uint8Array): Promise<Uint8Array> {
  const parts = [headerWith(contentKey, dids, ephemeralSecrets)]
  for await (const chunk of encryptStream(contentKey, (async function * () { yield plaintext })())) parts.push(chunk)
  return Buffer.concat(parts)
}

/** seal() with a fixed nonce. */
export function sealWith(contentKey: Uint8Array, purpose: string, data: Uint8Array, nonce: Uint8Array): Uint8Array {
  return seal(contentKey, purpose, data, nonce)
}
