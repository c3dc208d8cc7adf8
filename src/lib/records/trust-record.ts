import {InputError} from '../errors.js'
import {isDid, type Identity} from '../identity/index.js'
import {checkSignature, MAX_RECORD_BYTES, openRecord, signRecord, type SignedRecord} from './signed.js'

/** At most this many identities in one trust record: keeps a 3-hop score walk at ≤ 128³ paths. */
export const MAX_TRUST_ENTRIES = 128
/** Weights are positive numbers up to this (a weight is only ever used relative to its siblings). */
export const MAX_TRUST_WEIGHT = 1_000_000

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

/** A short printable form of any decoded value (JSON.stringify throws on a bigint). */
function describeValue(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return typeof value
  }
}

/** Why a weight is unusable, or null. Accepts only finite numbers in (0, MAX_TRUST_WEIGHT]. */
export function weightProblem(weight: unknown): string | null {
  if (typeof weight !== 'number' || !Number.isFinite(weight)) return `weight must be a number, got ${describeValue(weight)}`
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
  const signed = signRecord<TrustRecord>(unsigned, identity)
  if (signed.bytes.length > MAX_RECORD_BYTES) throw new InputError(`trust record is ${signed.bytes.length} bytes, over ${MAX_RECORD_BYTES}`)
  return signed
}

const FIELDS = ['owner', 'sig', 'time', 'trusts', 'type']

/**
 * Decodes and fully checks a trust record from untrusted bytes: size cap,
 * exact fields and types, dids, weights (finite, positive, capped), entries
 * sorted and unique with no self-trust, canonical encoding, and the owner's
 * signature. Throws IntegrityError naming the first problem.
 */
export function decodeTrustRecord(bytes: Uint8Array): SignedRecord<TrustRecord> {
  const {value, fail} = openRecord(bytes, 'trust', FIELDS)
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
  return checkSignature<TrustRecord>(value, bytes, fail)
}
