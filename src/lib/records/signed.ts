import * as dagCbor from '@ipld/dag-cbor'
import type {CID} from 'multiformats/cid'
import {cidOf} from '../content/cid.js'
import {DAG_CBOR_CODE} from '../content/constants.js'
import {IntegrityError} from '../errors.js'
import {isDid, verifySignature, type Identity} from '../identity/index.js'

/** Records are small, and hostile ones must stay cheap to check. */
export const MAX_RECORD_BYTES = 16 * 1024
/**
 * Domain separation: a signature over a polar record can never be replayed as
 * another message. Every record kind shares it; the signed map's `type` field
 * keeps the kinds apart.
 */
const SIGNING_PREFIX = new TextEncoder().encode('polar-record-v1\n')

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

/** Signs `unsigned` (already checked by the caller) and encodes it as canonical dag-cbor. */
export function signRecord<T>(unsigned: Record<string, unknown>, identity: Identity): SignedRecord<T> {
  const sig = identity.sign(signingBytes(unsigned))
  const record = {...unsigned, sig} as T
  const bytes = dagCbor.encode(record)
  return {record, bytes, cid: cidOf(DAG_CBOR_CODE, bytes)}
}

export type Fail = (why: string) => never

/**
 * The checks every record kind starts with, on untrusted bytes: size cap,
 * dag-cbor, a map with exactly `fields`, the `type`, an ed25519 did:key
 * `owner` and a non-negative integer `time`. Throws IntegrityError
 * ("invalid KIND record: …") naming the first problem; the caller checks its
 * own fields with the returned `fail`, then calls `checkSignature`.
 */
export function openRecord(bytes: Uint8Array, type: string, fields: readonly string[]): {value: any; fail: Fail} {
  const fail: Fail = (why) => { throw new IntegrityError(`invalid ${type} record: ${why}`) }
  if (!(bytes instanceof Uint8Array) || bytes.length > MAX_RECORD_BYTES) fail(`larger than ${MAX_RECORD_BYTES} bytes`)
  let value: any
  try {
    value = dagCbor.decode(bytes)
  } catch (err) {
    fail(`not dag-cbor (${(err as Error).message})`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) fail('not a map')
  const keys = Object.keys(value).sort()
  if (keys.join() !== [...fields].sort().join()) fail(`fields are [${keys.join(', ')}], expected [${[...fields].sort().join(', ')}]`)
  if (value.type !== type) fail(`type is not "${type}"`)
  if (typeof value.owner !== 'string' || !isDid(value.owner)) fail('owner is not an ed25519 did:key')
  if (!Number.isSafeInteger(value.time) || value.time < 0) fail('time is not a non-negative integer')
  return {value, fail}
}

/** The checks every record kind ends with: the owner's signature and canonical encoding (so the record CID is unique). */
export function checkSignature<T>(value: any, bytes: Uint8Array, fail: Fail): SignedRecord<T> {
  if (!(value.sig instanceof Uint8Array) || value.sig.length !== 64) fail('sig is not a 64-byte signature')
  const {sig, ...unsigned} = value
  if (!verifySignature(value.owner, signingBytes(unsigned), sig)) fail(`signature does not verify for ${value.owner}`)
  const canonical = dagCbor.encode(value)
  if (Buffer.compare(Buffer.from(canonical), Buffer.from(bytes)) !== 0) fail('not in canonical dag-cbor form')
  return {record: value as T, bytes, cid: cidOf(DAG_CBOR_CODE, bytes)}
}
