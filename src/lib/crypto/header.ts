import {createHmac, randomBytes, randomInt, timingSafeEqual} from 'node:crypto'
import {IntegrityError, InputError} from '../errors.js'
import type {Identity} from '../identity/index.js'
import {aeadOpen, aeadSeal, hkdf} from './aead.js'
import {HEADER_FIXED_SIZE, HEADER_MAC_SIZE, KEY_SIZE, LABEL, MAGIC, MAX_RECIPIENTS, NONCE_SIZE, STANZA_SIZE, VERSION} from './constants.js'
import {ephemeralKeyPair, keyPairOfIdentity, recipientKeyOfDid, sharedSecret, type X25519KeyPair} from './x25519.js'

/**
 * The envelope header (docs/protocol.md "Envelope and sealed data"):
 *
 *   "polarenc" ‖ version 0x01 ‖ n (uint16 BE, 1..128) ‖ n stanzas ‖ HMAC-SHA256
 *
 * Each stanza wraps the content key for one recipient, in the spirit of age's
 * X25519 recipient stanza: a fresh ephemeral X25519 key pair e, the wrap key
 * HKDF-SHA256(X25519(e, R), info = label ‖ e.pub ‖ R), and the content key
 * sealed under it with a zero nonce (each wrap key seals exactly one
 * message). A stanza names nobody: without the recipient's secret it cannot
 * be told apart from any other, so the header leaks how many recipients
 * there are and nothing else; stanzas are shuffled so their order says
 * nothing either. The MAC, keyed from the content key, covers every byte
 * before it: a recipient that unwraps the key then knows that no stanza was
 * added, dropped or altered (age's header MAC).
 *
 * The same bytes are a private object's key header (issue 18): its record
 * carries them, and its DAG is the STREAM payload.
 */

const ZERO_NONCE = new Uint8Array(NONCE_SIZE)
const STANZA_LABEL = Buffer.from(LABEL.stanza, 'utf8')

export function newContentKey(): Uint8Array {
  return new Uint8Array(randomBytes(KEY_SIZE))
}

export function headerSize(recipients: number): number {
  return HEADER_FIXED_SIZE + recipients * STANZA_SIZE + HEADER_MAC_SIZE
}

function wrapKeyOf(shared: Uint8Array, ephemeralPublic: Uint8Array, recipientPublic: Uint8Array): Uint8Array {
  return hkdf(shared, Buffer.concat([STANZA_LABEL, ephemeralPublic, recipientPublic]), KEY_SIZE)
}

function wrap(contentKey: Uint8Array, recipient: Uint8Array, ephemeral: X25519KeyPair): Uint8Array {
  const shared = sharedSecret(ephemeral.privateKey, recipient)
  if (!shared) throw new InputError('a recipient key is of low order: it cannot receive encrypted data', {code: 'BAD_RECIPIENT'})
  return Buffer.concat([ephemeral.publicKey, aeadSeal(wrapKeyOf(shared, ephemeral.publicKey, recipient), ZERO_NONCE, contentKey)])
}

function unwrap(stanza: Uint8Array, me: X25519KeyPair): Uint8Array | undefined {
  const ephemeralPublic = stanza.subarray(0, 32)
  const shared = sharedSecret(me.privateKey, ephemeralPublic)
  return shared && aeadOpen(wrapKeyOf(shared, ephemeralPublic, me.publicKey), ZERO_NONCE, stanza.subarray(32))
}

function macOf(contentKey: Uint8Array, covered: Uint8Array): Buffer {
  return createHmac('sha256', hkdf(contentKey, LABEL.headerMac, 32)).update(covered).digest()
}

export interface HeaderOptions {
  /** Known-answer tests only (crypto/testing.ts): one ephemeral secret per recipient, and no shuffle. */
  ephemeralSecrets?: Uint8Array[]
}

/** The recipients as given, each did once, checked (InputError for a malformed or unusable did, none, or too many). */
export function checkRecipients(dids: readonly string[]): string[] {
  const unique = [...new Set(dids)]
  if (unique.length === 0) throw new InputError('an envelope needs at least one recipient did', {code: 'USAGE'})
  if (unique.length > MAX_RECIPIENTS) throw new InputError(`${unique.length} recipients: an envelope holds at most ${MAX_RECIPIENTS}`, {code: 'TOO_MANY_RECIPIENTS'})
  for (const did of unique) recipientKeyOfDid(did)
  return unique
}

/** The header that gives `contentKey` to each of `dids`. */
export function encodeHeader(contentKey: Uint8Array, dids: readonly string[], options: HeaderOptions = {}): Uint8Array {
  if (contentKey.length !== KEY_SIZE) throw new InputError(`a content key is ${KEY_SIZE} bytes`, {code: 'BAD_KEY'})
  const recipients = checkRecipients(dids).map(recipientKeyOfDid)
  const fixed = options.ephemeralSecrets
  if (fixed && fixed.length !== recipients.length) throw new InputError('one ephemeral secret per recipient')
  const stanzas = recipients.map((r, i) => wrap(contentKey, r, ephemeralKeyPair(fixed?.[i])))
  if (!fixed) {
    for (let i = stanzas.length - 1; i > 0; i--) {
      const j = randomInt(i + 1)
      ;[stanzas[i], stanzas[j]] = [stanzas[j], stanzas[i]]
    }
  }
  const head = new Uint8Array(HEADER_FIXED_SIZE)
  head.set(MAGIC, 0)
  head[MAGIC.length] = VERSION
  new DataView(head.buffer).setUint16(MAGIC.length + 1, stanzas.length)
  const covered = Buffer.concat([head, ...stanzas])
  return Buffer.concat([covered, macOf(contentKey, covered)])
}

/**
 * How long the header starting with `prefix` (at least HEADER_FIXED_SIZE
 * bytes) is. IntegrityError when the bytes are not a polar envelope of a
 * version this code reads.
 */
export function headerSizeFrom(prefix: Uint8Array): number {
  if (!MAGIC.subarray(0, prefix.length).every((b, i) => prefix[i] === b)) {
    throw new IntegrityError('not a polar envelope (it does not start with "polarenc"): altered, or not made by `polar encrypt`', {code: 'NOT_AN_ENVELOPE'})
  }
  if (prefix.length < HEADER_FIXED_SIZE) throw new IntegrityError(`envelope cut short: ${prefix.length} bytes`)
  const version = prefix[MAGIC.length]
  if (version !== VERSION) throw new IntegrityError(`envelope version ${version}: this polar reads version ${VERSION} only (altered, or made by a newer polar)`, {code: 'UNSUPPORTED_VERSION'})
  const count = (prefix[MAGIC.length + 1] << 8) | prefix[MAGIC.length + 2]
  if (count < 1 || count > MAX_RECIPIENTS) throw new IntegrityError(`envelope header names ${count} recipients (1..${MAX_RECIPIENTS}): altered`)
  return headerSize(count)
}

/** How many recipients a header has (it names none of them). */
export function recipientCount(header: Uint8Array): number {
  return (headerSizeFrom(header) - HEADER_FIXED_SIZE - HEADER_MAC_SIZE) / STANZA_SIZE
}

export interface OpenedHeader {
  contentKey: Uint8Array
  /** The local identity whose stanza opened it. */
  identity: Identity
}

/**
 * The content key of `header` (exactly the header's bytes), for the first of
 * `identities` that one of its stanzas is for. IntegrityError with code
 * NOT_A_RECIPIENT when none is (or that stanza was altered), INTEGRITY when a
 * stanza opens but the MAC shows the header was changed.
 */
export function openHeader(header: Uint8Array, identities: readonly Identity[]): OpenedHeader {
  const size = headerSizeFrom(header)
  if (header.length !== size) throw new IntegrityError(`envelope header is ${header.length} bytes, expected ${size}: altered`)
  const count = recipientCount(header)
  for (const identity of identities) {
    const me = keyPairOfIdentity(identity)
    for (let i = 0; i < count; i++) {
      const at = HEADER_FIXED_SIZE + i * STANZA_SIZE
      const contentKey = unwrap(header.subarray(at, at + STANZA_SIZE), me)
      if (!contentKey) continue
      const mac = header.subarray(size - HEADER_MAC_SIZE)
      if (!timingSafeEqual(macOf(contentKey, header.subarray(0, size - HEADER_MAC_SIZE)), mac)) {
        throw new IntegrityError('the envelope header was altered (its MAC does not verify): refusing it')
      }
      return {contentKey: new Uint8Array(contentKey), identity}
    }
  }
  const names = identities.map((i) => i.name).join(', ')
  throw new IntegrityError(`not encrypted for ${identities.length === 1 ? 'your key' : 'any of your keys'} (${names}): none of its ${count} recipient stanza(s) opens with ${identities.length === 1 ? 'it' : 'them'}, or the stanza for you was altered`, {code: 'NOT_A_RECIPIENT'})
}
