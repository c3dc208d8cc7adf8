import {IntegrityError} from '../errors.js'
import type {Identity} from '../identity/index.js'
import {HEADER_FIXED_SIZE} from './constants.js'
import {checkRecipients, encodeHeader, headerSizeFrom, newContentKey, openHeader, recipientCount} from './header.js'
import {decryptStream, encryptStream, type StreamOptions} from './stream.js'

/**
 * `polar encrypt` / `polar decrypt` (issue 16): an envelope is the header
 * (header.ts) followed by the STREAM payload (stream.ts) under a fresh
 * random content key. Nothing but the recipients' count and the plaintext's
 * length shows; the envelope does not say who made it (sign it as well when
 * that matters: `polar sign`).
 */

export interface Envelope {
  /** The recipients, each once, in the order given (the header shuffles its stanzas). */
  recipients: string[]
  /** header, then ciphertext chunks; the plaintext is read as the output is consumed. */
  chunks: AsyncGenerator<Uint8Array>
}

/** Checks the recipients at once (InputError before any output), then streams the envelope. */
export function encryptEnvelope(source: AsyncIterable<Uint8Array>, dids: readonly string[], options: StreamOptions = {}): Envelope {
  const recipients = checkRecipients(dids)
  const contentKey = newContentKey()
  const header = encodeHeader(contentKey, recipients)
  async function * chunks(): AsyncGenerator<Uint8Array> {
    yield header
    yield * encryptStream(contentKey, source, options)
  }
  return {recipients, chunks: chunks()}
}

export interface OpenedEnvelope {
  /** The local identity it was opened with. */
  identity: Identity
  recipients: number
  /** Authenticated plaintext, chunk by chunk (a failing chunk throws IntegrityError). */
  plaintext: AsyncGenerator<Uint8Array>
}

/**
 * Reads the header from `source` and opens it with the first of
 * `identities` it is for; resolves before any plaintext is produced, so a
 * refusal (not for these keys, altered header) comes before any output.
 */
export async function decryptEnvelope(source: AsyncIterable<Uint8Array>, identities: readonly Identity[], options: StreamOptions = {}): Promise<OpenedEnvelope> {
  const input = source[Symbol.asyncIterator]()
  const pieces: Uint8Array[] = []
  let have = 0
  const readTo = async (n: number): Promise<boolean> => {
    while (have < n) {
      const next = await input.next()
      if (next.done) return false
      pieces.push(next.value)
      have += next.value.length
    }
    return true
  }
  const joined = (): Uint8Array => Buffer.concat(pieces, have)
  if (!(await readTo(HEADER_FIXED_SIZE)) && have === 0) throw new IntegrityError('not a polar envelope: the input is empty', {code: 'NOT_AN_ENVELOPE'})
  const size = headerSizeFrom(joined()) // not an envelope, or cut short: IntegrityError
  if (!(await readTo(size))) throw new IntegrityError(`envelope cut short inside its header (${have} of ${size} bytes)`)
  const all = joined()
  const header = all.subarray(0, size)
  const opened = openHeader(header, identities)
  const rest = all.subarray(size)
  async function * payload(): AsyncGenerator<Uint8Array> {
    if (rest.length > 0) yield rest
    for (;;) {
      const next = await input.next()
      if (next.done) return
      yield next.value
    }
  }
  return {identity: opened.identity, recipients: recipientCount(header), plaintext: decryptStream(opened.contentKey, payload(), options)}
}
