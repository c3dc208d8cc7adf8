import {CID} from 'multiformats/cid'
import {assertSupportedCid} from '../content/cid.js'
import {IntegrityError, InputError} from '../errors.js'
import type {Identity} from '../identity/index.js'
import {checkSignature, MAX_RECORD_BYTES, openRecord, signRecord, type SignedRecord} from './signed.js'

/** Limits on record fields. */
export const MAX_NAME_BYTES = 255
export const MAX_TAGS = 32
export const MAX_TAG_LENGTH = 64
const MIME = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,127}(;[ -~]{0,128})?$/i
const TAG = /^[^\s\u0000-\u001f]{1,64}$/u

/**
 * The signed object record (DESIGN.md "Records"): what search indexes and
 * replication carries. Canonical dag-cbor (sorted map keys, no floats for
 * integers), so every node computes the same record CID.
 */
export interface ObjectRecord {
  type: 'object'
  root: CID
  size: number
  name: string
  mime: string
  tags: string[]
  owner: string
  /** Milliseconds since the Unix epoch. */
  time: number
  sig: Uint8Array
}

export type UnsignedObjectRecord = Omit<ObjectRecord, 'sig' | 'type' | 'owner'>

export {MAX_RECORD_BYTES, type SignedRecord}

export function normaliseTags(tags: string[]): string[] {
  const out = [...new Set(tags.map((t) => t.trim()).filter((t) => t.length > 0))].sort()
  if (out.length > MAX_TAGS) throw new InputError(`at most ${MAX_TAGS} tags per object, got ${out.length}`)
  for (const t of out) if (!t.isWellFormed() || !TAG.test(t)) throw new InputError(`bad tag ${JSON.stringify(t)}: 1-${MAX_TAG_LENGTH} characters, no spaces or control characters`)
  return out
}

export function checkName(name: string): string {
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) throw new InputError(`name is longer than ${MAX_NAME_BYTES} bytes`)
  if (/[\u0000-\u001f]/.test(name)) throw new InputError('name contains control characters')
  // A lone surrogate would be encoded as U+FFFD: the signed bytes would not say what the caller asked.
  if (!name.isWellFormed()) throw new InputError('name is not well-formed Unicode (lone surrogate)')
  return name
}

export function checkMime(mime: string): string {
  if (!MIME.test(mime)) throw new InputError(`bad media type ${JSON.stringify(mime)} (expected type/subtype, e.g. text/plain)`)
  return mime.toLowerCase()
}

export function signObjectRecord(fields: UnsignedObjectRecord, identity: Identity): SignedRecord<ObjectRecord> {
  assertSupportedCid(fields.root)
  // The same rules decodeObjectRecord applies: never sign what a verifier would reject.
  if (!Number.isSafeInteger(fields.size) || fields.size < 0) throw new InputError(`record size must be a non-negative integer, got ${fields.size}`)
  if (!Number.isSafeInteger(Math.trunc(fields.time)) || fields.time < 0) throw new InputError(`record time must be a non-negative integer, got ${fields.time}`)
  const unsigned = {
    type: 'object' as const,
    root: fields.root,
    size: fields.size,
    name: checkName(fields.name),
    mime: checkMime(fields.mime),
    tags: normaliseTags(fields.tags),
    owner: identity.did,
    time: Math.trunc(fields.time),
  }
  return signRecord<ObjectRecord>(unsigned, identity)
}

const FIELDS = ['mime', 'name', 'owner', 'root', 'sig', 'size', 'tags', 'time', 'type']

/**
 * Decodes and fully checks an object record from untrusted bytes: size cap,
 * exact field set and types, canonical encoding, and the owner's signature.
 * Throws IntegrityError naming the first problem.
 */
export function decodeObjectRecord(bytes: Uint8Array): SignedRecord<ObjectRecord> {
  const {value, fail} = openRecord(bytes, 'object', FIELDS)
  const root = CID.asCID(value.root)
  if (!root) fail('root is not a CID')
  try { assertSupportedCid(root!) } catch (err) { fail((err as Error).message) }
  if (!Number.isSafeInteger(value.size) || value.size < 0) fail('size is not a non-negative integer')
  if (typeof value.name !== 'string') fail('name is not a string')
  if (typeof value.mime !== 'string') fail('mime is not a string')
  if (!Array.isArray(value.tags) || !value.tags.every((t: unknown) => typeof t === 'string')) fail('tags is not a list of strings')
  try {
    checkName(value.name)
    checkMime(value.mime)
    const tags = normaliseTags(value.tags)
    if (tags.join('\n') !== value.tags.join('\n')) fail('tags are not sorted and unique')
  } catch (err) {
    if (err instanceof IntegrityError) throw err
    fail((err as Error).message)
  }
  return checkSignature<ObjectRecord>(value, bytes, fail)
}
