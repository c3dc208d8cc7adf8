import {createHash} from 'node:crypto'
import {InputError} from '../errors.js'
import {verifySignature, type Identity} from '../identity/index.js'
import {MAX_CONTEXT_BYTES, SIGNATURE_SIZE, SIGN_PREFIX} from './constants.js'

/**
 * Signatures over arbitrary data for services and shell pipelines (issue 16;
 * draft 002, "signing checksums on behalf of services"). What is signed is
 *
 *   "polar-sign-v1\n" ‖ len(context) (1 byte) ‖ context (UTF-8) ‖ SHA-512(data)
 *
 * with ed25519 (RFC 8032) by the identity's key. Signing the digest lets
 * data of any size stream through once; the prefix keeps these signatures
 * apart from records and requests (constants.ts); the context (empty from
 * the CLI unless --context) keeps one service's signatures from being
 * replayed as another's. Anyone can check one with an ed25519 library and a
 * SHA-512: docs/protocol.md gives the bytes.
 */
export type Data = Uint8Array | AsyncIterable<Uint8Array>

export async function digestOf(data: Data, signal?: AbortSignal): Promise<Uint8Array> {
  const hash = createHash('sha512')
  if (data instanceof Uint8Array) hash.update(data)
  else {
    for await (const piece of data) {
      signal?.throwIfAborted()
      hash.update(piece)
    }
  }
  return new Uint8Array(hash.digest())
}

/** The exact bytes the key signs for `digest` (SHA-512 of the data) in `context`. */
export function signingMessage(digest: Uint8Array, context = ''): Uint8Array {
  const ctx = Buffer.from(context, 'utf8')
  if (ctx.length > MAX_CONTEXT_BYTES) throw new InputError(`a signing context is at most ${MAX_CONTEXT_BYTES} bytes of UTF-8, got ${ctx.length}`)
  if (digest.length !== 64) throw new InputError('a digest is 64 bytes (SHA-512)')
  return Buffer.concat([Buffer.from(SIGN_PREFIX, 'utf8'), Uint8Array.of(ctx.length), ctx, digest])
}

export interface SignOptions {
  context?: string
  signal?: AbortSignal
}

export async function signData(identity: Identity, data: Data, options: SignOptions = {}): Promise<Uint8Array> {
  signingMessage(new Uint8Array(64), options.context) // a bad context fails before the data is read
  return identity.sign(signingMessage(await digestOf(data, options.signal), options.context))
}

/** True when `signature` is `did`'s over `data` in `context`; false for any bad input (never throws on it). */
export async function verifyData(did: string, data: Data, signature: Uint8Array, options: SignOptions = {}): Promise<boolean> {
  signingMessage(new Uint8Array(64), options.context)
  return verifySignature(did, signingMessage(await digestOf(data, options.signal), options.context), signature)
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const BASE64URL = /^[A-Za-z0-9_-]+$/

/** A signature as printed by `polar sign` (base64; base64url also accepted): InputError unless it is 64 bytes. */
export function parseSignature(text: string): Uint8Array {
  const t = text.trim()
  const ok = BASE64.test(t) || BASE64URL.test(t)
  const bytes = ok ? Buffer.from(t, BASE64.test(t) ? 'base64' : 'base64url') : Buffer.alloc(0)
  if (bytes.length !== SIGNATURE_SIZE) {
    throw new InputError(`not a signature: ${JSON.stringify(t.slice(0, 100))} (expected ${SIGNATURE_SIZE} bytes in base64, as \`polar sign\` prints)`)
  }
  return new Uint8Array(bytes)
}

export function formatSignature(signature: Uint8Array): string {
  return Buffer.from(signature).toString('base64')
}
