import * as dagCbor from '@ipld/dag-cbor'
import {cidOf} from '../content/cid.js'
import {DAG_CBOR_CODE} from '../content/constants.js'
import {InputError, IntegrityError} from '../errors.js'
import {isDid, verifySignature, type Identity} from '../identity/index.js'
import {MAX_RECORD_BYTES, type SignedRecord} from './object-record.js'

/** At most this many identities in one trust record: keeps a 3-hop score walk at ≤ 128³ paths. */
export const MAX_TRUST_ENTRIES = 128
/** Weights are positive numbers up to this (a weight is only ever used relative to its siblings). */
export const MAX_TRUST_WEIGHT = 1_000_000
/** Same domain prefix as object records; the signed map's `type` keeps the two kinds apart. */
const SIGNING_PREFIX = new TextEncoder().encode('polar-record-v1\n')

export interface TrustEntry {
  did: string
  weight: number
}

/**
 * A signed trust record (DESIGN.md "Records", Planet draft "Web of trust"):
 * the identities `owner` trusts, with weights. Entries are sorted by did and
 * unique, so every signer produces one canonical encoding. A newer record of
 * the same owner replaces the older one.
 */
export interface TrustRecord {
  type: 'trust'
  owner: string
  trusts: TrustEntry[]
  /** Milliseconds since the Unix epoch. */
  time: number
  sig: Uint8Array
}

function signingBytes(unsigned: Record<string, unknown>): Uint8Array {
  const body = dagCbor.encode(unsigned)
  const out = new Uint8Array(SIGNING_PREFIX.length + body.length)
  out.set(SIGNING_PREFIX, 0)
  out.set(body, SIGNING_PREFIX.length)
  return out
}

/** Why a weight is unusable, or null. Accepts only finite numbers in (0, MAX_TRUST_WEIGHT]. */
export function weightProblem(weight: unknown): string | null {
  if (typeof weight !== 'number' || !Number.isFinite(weight)) return `weight must be a number, got ${JSON.stringify(weight)}`
  if (weight <= 0) return `weight must be positive, got ${weight} (use \`trust rm\` to stop trusting)`
  if (weight > MAX_TRUST_WEIGHT) return `weight must be at most ${MAX_TRUST_WEIGHT}, got ${weight}`
  return null
}

/** Parses a --weight value: a plain decimal number, positive. */
export function parseWeight(text: string): number {
  if (!/^\s*(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$/.test(text)) throw new InputError(`--weight must be a positive number, got ${JSON.stringify(text)}`)
  const w = Number(text)
  const problem = weightProblem(w)
  if (problem) throw new InputError(`--${problem}`)
  return w
}

/** Checks and sorts entries for signing; throws InputError on a bad did, weight, duplicate or self-trust. */
export function normaliseEntries(owner: string, entries: TrustEntry[]): TrustEntry[] {
  const seen = new Set<string>()
  for (const e of entries) {
    if (typeof e.did !== 'string' || !isDid(e.did)) throw new InputError(`not an ed25519 did:key: ${JSON.stringify(String(e.did).slice(0, 80))}`)
    if (e.did === owner) throw new InputError('an identity cannot list itself in its trust record (its own trust is always 1)')
    if (seen.has(e.did)) throw new InputError(`${e.did} is listed twice`)
    seen.add(e.did)
    const problem = weightProblem(e.weight)
    if (problem) throw new InputError(problem)
  }
  if (entries.length > MAX_TRUST_ENTRIES) throw new InputError(`a trust record holds at most ${MAX_TRUST_ENTRIES} identities`)
  return entries.map((e) => ({did: e.did, weight: e.weight})).sort((a, b) => (a.did < b.did ? -1 : a.did > b.did ? 1 : 0))
}

export function signTrustRecord(entries: TrustEntry[], identity: Identity, time = Date.now()): SignedRecord<TrustRecord> {
  if (!Number.isSafeInteger(Math.trunc(time)) || time < 0) throw new InputError(`record time must be a non-negative integer, got ${time}`)
  const unsigned = {type: 'trust' as const, owner: identity.did, trusts: normaliseEntries(identity.did, entries), time: Math.trunc(time)}
  const sig = identity.sign(signingBytes(unsigned))
  const record: TrustRecord = {...unsigned, sig}
  const bytes = dagCbor.encode(record)
  if (bytes.length > MAX_RECORD_BYTES) throw new InputError(`trust record is ${bytes.length} bytes, over ${MAX_RECORD_BYTES}`)
  return {record, bytes, cid: cidOf(DAG_CBOR_CODE, bytes)}
}

const FIELDS = ['owner', 'sig', 'time', 'trusts', 'type']

/**
 * Decodes and fully checks a trust record from untrusted bytes: size cap,
 * exact fields and types, dids, weights (finite, positive, capped), entries
 * sorted and unique with no self-trust, canonical encoding, and the owner's
 * signature. Throws IntegrityError naming the first problem.
 */
export function decodeTrustRecord(bytes: Uint8Array): SignedRecord<TrustRecord> {
  const fail = (why: string): never => { throw new IntegrityError(`invalid trust record: ${why}`) }
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
  if (value.type !== 'trust') fail('type is not "trust"')
  if (typeof value.owner !== 'string' || !isDid(value.owner)) fail('owner is not an ed25519 did:key')
  if (!Number.isSafeInteger(value.time) || value.time < 0) fail('time is not a non-negative integer')
  if (!Array.isArray(value.trusts)) fail('trusts is not a list')
  if (value.trusts.length > MAX_TRUST_ENTRIES) fail(`more than ${MAX_TRUST_ENTRIES} entries`)
  let prev = ''
  for (const e of value.trusts) {
    if (e === null || typeof e !== 'object' || Array.isArray(e)) fail('an entry is not a map')
    if (Object.keys(e).sort().join() !== 'did,weight') fail('an entry has fields other than did and weight')
    if (typeof e.did !== 'string' || !isDid(e.did)) fail('an entry did is not an ed25519 did:key')
    if (e.did === value.owner) fail('the owner trusts itself')
    if (e.did <= prev) fail('entries are not sorted by did and unique')
    prev = e.did
    const problem = weightProblem(e.weight)
    if (problem) fail(problem)
  }
  if (!(value.sig instanceof Uint8Array) || value.sig.length !== 64) fail('sig is not a 64-byte signature')
  const {sig, ...unsigned} = value
  if (!verifySignature(value.owner, signingBytes(unsigned), sig)) fail(`signature does not verify for ${value.owner}`)
  const canonical = dagCbor.encode(value)
  if (Buffer.compare(Buffer.from(canonical), Buffer.from(bytes)) !== 0) fail('not in canonical dag-cbor form')
  return {record: value as TrustRecord, bytes, cid: cidOf(DAG_CBOR_CODE, bytes)}
}
