import * as dagCbor from '@ipld/dag-cbor'
import {CID} from 'multiformats/cid'
import {assertSupportedCid, cidOf} from '../content/cid.js'
import {DAG_CBOR_CODE} from '../content/constants.js'
import {IntegrityError, InputError} from '../errors.js'
import {isDid, verifySignature, type Identity} from '../identity/index.js'

/** Limits on record fields: records are small, and hostile ones must stay cheap to check. */
export const MAX_RECORD_BYTES = 16 * 1024
export const MAX_NAME_BYTES = 255
export const MAX_TAGS = 32
export const MAX_TAG_LENGTH = 64
const MIME = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,127}(;[ -~]{0,128})?$/i
const TAG = /^[^\s\u0000-\u001f]{1,64}$/u
/** Domain separation: a signature over a polar record can never be replayed as another message. */
const SIGNING_PREFIX = new TextEncoder().encode('polar-record-v1\n')

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

export interface SignedRecord<T> {
  record: T
  bytes: Uint8Array
  cid: CID
}

function signingBytes(unsigned: Record<string, unknown>): Uint8Array {
  const body = dagCbor.encode(unsigned)
  const out = new Uint8Array(SIGNING_PREFIX.length + body.length)
  out.set(SIGNING_PREFIX, 0)
  out.set(body, SIGNING_PREFIX.length)
  return out
}

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
  const sig = identity.sign(signingBytes(unsigned))
  const record: ObjectRecord = {...unsigned, sig}
  const bytes = dagCbor.encode(record)
  return {record, bytes, cid: cidOf(DAG_CBOR_CODE, bytes)}
}

const FIELDS = ['mime', 'name', 'owner', 'root', 'sig', 'size', 'tags', 'time', 'type']

/**
 * Decodes and fully checks an object record from untrusted bytes: size cap,
 * exact field set and types, canonical encoding, and the owner's signature.
 * Throws IntegrityError naming the first problem.
 */
export function decodeObjectRecord(bytes: Uint8Array): SignedRecord<ObjectRecord> {
  const fail = (why: string): never => { throw new IntegrityError(`invalid object record: ${why}`) }
  if (!(bytes instanceof Uint8Array) || bytes.length > MAX_RECORD_BYTES) fail(`larger than ${MAX_RECORD_BYTES} bytes`)
  let value: any
  try {
    value = dagCbor.decode(bytes)
  } catch (err) {
    fail(`not dag-cbor (${(err as Error).message})`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('not a map')
  const keys = Object.keys(value).sort()
  if (keys.join() !== FIELDS.join()) fail(`fields are [${keys.join(', ')}], expected [${FIELDS.join(', ')}]`)
  if (value.type !== 'object') fail('type is not "object"')
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
  if (typeof value.owner !== 'string' || !isDid(value.owner)) fail('owner is not an ed25519 did:key')
  if (!Number.isSafeInteger(value.time) || value.time < 0) fail('time is not a non-negative integer')
  if (!(value.sig instanceof Uint8Array) || value.sig.length !== 64) fail('sig is not a 64-byte signature')
  const {sig, ...unsigned} = value
  if (!verifySignature(value.owner, signingBytes(unsigned), sig)) fail(`signature does not verify for ${value.owner}`)
  // Canonical form: re-encoding gives the same bytes, so the record CID is unique.
  const canonical = dagCbor.encode(value)
  if (Buffer.compare(Buffer.from(canonical), Buffer.from(bytes)) !== 0) fail('not in canonical dag-cbor form')
  return {record: value as ObjectRecord, bytes, cid: cidOf(DAG_CBOR_CODE, bytes)}
}
