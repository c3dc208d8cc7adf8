import * as dagCbor from '@ipld/dag-cbor'
import type {CID} from 'multiformats/cid'
import {cidOf} from '../content/cid.js'
import {DAG_CBOR_CODE} from '../content/constants.js'
import {IntegrityError, InputError} from '../errors.js'
import {isDid, verifySignature, type Identity} from '../identity/index.js'
import {mintStampInWorker} from './mint-worker.js'
import {mintStamp, stampProblem, type Stamp} from './stamp.js'

/**
 * The signed peer record (DESIGN.md "Records"; drafts 000 "register" and 002
 * PEER-INFO): a node's did, the URLs it can be reached at, its service
 * string, the public user keys it announces, the time, a hashcash stamp bound
 * to the node key and that time, and the node's ed25519 signature over all of
 * it. Canonical dag-cbor, so every node computes the same record CID (used to
 * de-duplicate gossip). A record is hostile input until decodePeerRecord says
 * otherwise; it never enters a peer table or gets forwarded before that.
 */
export interface PeerRecord {
  did: string
  urls: string[]
  services: string
  userKeys: string[]
  /** Milliseconds since the Unix epoch; the stamp is bound to it. */
  time: number
  stamp: Stamp
  sig: Uint8Array
}

export interface SignedPeerRecord {
  record: PeerRecord
  bytes: Uint8Array
  cid: CID
}

/** Encoded size cap: a record is a few hundred bytes; anything bigger is refused before decoding. */
export const MAX_PEER_RECORD_BYTES = 4096
export const MAX_URLS = 4
export const MAX_URL_LENGTH = 256
/** The service string (draft 002 "Service string"): short printable ASCII. */
export const MAX_SERVICES_LENGTH = 256
export const MAX_USER_KEYS = 16
/** A record is fresh for an hour after its time; nodes re-mint every RECORD_REFRESH_MS. */
export const RECORD_TTL_MS = 60 * 60 * 1000
export const RECORD_REFRESH_MS = 20 * 60 * 1000
/** How far in the future a record's time may be (clock skew between nodes). */
export const MAX_FUTURE_SKEW_MS = 2 * 60 * 1000
/** The stamp's resource: binds it to the node key (its did), so it pays for nothing else. */
export const stampResource = (did: string) => `peer-record:${did}`

const SIGNING_PREFIX = new TextEncoder().encode('polar-peer-record-v1\n')
const FIELDS = ['did', 'services', 'sig', 'stamp', 'time', 'urls', 'userKeys']
const SERVICES_RE = /^[\x20-\x7e]*$/

function signingBytes(unsigned: Omit<PeerRecord, 'sig'>): Uint8Array {
  const body = dagCbor.encode(unsigned)
  const out = new Uint8Array(SIGNING_PREFIX.length + body.length)
  out.set(SIGNING_PREFIX, 0)
  out.set(body, SIGNING_PREFIX.length)
  return out
}

/** Why a URL may not be announced, or null. Only http(s) origins, no credentials, paths or queries. */
export function urlProblem(url: unknown): string | null {
  if (typeof url !== 'string' || url.length === 0 || url.length > MAX_URL_LENGTH) return `URL is not a string of 1-${MAX_URL_LENGTH} characters`
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return `${JSON.stringify(url.slice(0, 80))} is not a URL`
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `${JSON.stringify(url.slice(0, 80))} is not http(s)`
  if (u.origin !== url) return `${JSON.stringify(url.slice(0, 80))} is not a bare origin (scheme://host:port, no path or credentials)`
  return null
}

/** Stamps of at least this difficulty are minted in a worker thread. */
export const WORKER_MIN_BITS = 14

export interface MintOptions {
  urls: string[]
  services: string
  userKeys?: string[]
  bits: number
  time?: number
  signal?: AbortSignal
}

/** Mints a stamp (about a second of work at the default difficulty) and signs a fresh record. */
export async function mintPeerRecord(identity: Identity, options: MintOptions): Promise<SignedPeerRecord> {
  const time = Math.trunc(options.time ?? Date.now())
  // A worker for real work (its garbage never grows the node's heap); cheap stamps (tests) in-process.
  const mint = options.bits >= WORKER_MIN_BITS ? mintStampInWorker : mintStamp
  const stamp = await mint(stampResource(identity.did), time, options.bits, options.signal)
  return signPeerRecord(identity, {urls: options.urls, services: options.services, userKeys: options.userKeys ?? [], time, stamp})
}

/** Signs a record with a stamp already minted. Refuses what a verifier would refuse. */
export function signPeerRecord(identity: Identity, fields: {urls: string[]; services: string; userKeys: string[]; time: number; stamp: Stamp}): SignedPeerRecord {
  const unsigned = {did: identity.did, urls: fields.urls, services: fields.services, userKeys: fields.userKeys, time: fields.time, stamp: {bits: fields.stamp.bits, nonce: fields.stamp.nonce}}
  const problem = fieldProblem(unsigned)
  if (problem) throw new InputError(`cannot sign this peer record: ${problem}`)
  const record: PeerRecord = {...unsigned, sig: identity.sign(signingBytes(unsigned))}
  const bytes = dagCbor.encode(record)
  if (bytes.length > MAX_PEER_RECORD_BYTES) throw new InputError(`peer record is ${bytes.length} bytes, over the ${MAX_PEER_RECORD_BYTES}-byte limit`)
  return {record, bytes, cid: cidOf(DAG_CBOR_CODE, bytes)}
}

/** Field-level checks shared by signing and decoding (not the signature or stamp). */
function fieldProblem(v: any): string | null {
  if (typeof v.did !== 'string' || !isDid(v.did)) return 'did is not an ed25519 did:key'
  if (!Array.isArray(v.urls) || v.urls.length === 0 || v.urls.length > MAX_URLS) return `urls must be a list of 1-${MAX_URLS} URLs`
  for (const u of v.urls) {
    const p = urlProblem(u)
    if (p) return `bad URL: ${p}`
  }
  if (new Set(v.urls).size !== v.urls.length) return 'urls repeat'
  if (typeof v.services !== 'string') return 'services is not a string'
  if (v.services.length > MAX_SERVICES_LENGTH) return `service string is ${v.services.length} characters, over the ${MAX_SERVICES_LENGTH}-character limit`
  if (!SERVICES_RE.test(v.services)) return 'service string has characters outside printable ASCII'
  if (!Array.isArray(v.userKeys) || v.userKeys.length > MAX_USER_KEYS) return `userKeys must be a list of at most ${MAX_USER_KEYS} did:keys`
  if (!v.userKeys.every((k: unknown) => typeof k === 'string' && isDid(k))) return 'userKeys holds something that is not an ed25519 did:key'
  if (!Number.isSafeInteger(v.time) || v.time < 0) return 'time is not a non-negative integer'
  if (v.stamp === null || typeof v.stamp !== 'object' || Array.isArray(v.stamp) || Object.keys(v.stamp).sort().join() !== 'bits,nonce') return 'stamp is not {bits, nonce}'
  return null
}

export interface DecodeOptions {
  /** The difficulty this node demands (settings.stampBits). */
  minBits: number
  now?: number
  /** Freshness window (default RECORD_TTL_MS). */
  ttlMs?: number
}

/** A peer record that failed a check; `reason` is a stable short word for logs and counters. */
export class PeerRecordError extends IntegrityError {
  override name = 'PeerRecordError'
  constructor(readonly reason: 'size' | 'encoding' | 'fields' | 'signature' | 'stamp' | 'stale' | 'future', message: string) {
    super(`invalid peer record: ${message}`, {code: 'BAD_PEER_RECORD'})
  }
}

/**
 * Decodes and fully checks a peer record from untrusted bytes, cheapest check
 * first: size, dag-cbor, exact field set and types, canonical form,
 * freshness, stamp, signature. Throws PeerRecordError naming the problem.
 * Replays of a valid record (a spent stamp, an older record than the one
 * held) are the caller's to catch: they need memory (SpentStamps, the table).
 */
export function decodePeerRecord(bytes: Uint8Array, options: DecodeOptions): SignedPeerRecord {
  const now = options.now ?? Date.now()
  const ttl = options.ttlMs ?? RECORD_TTL_MS
  if (!(bytes instanceof Uint8Array)) throw new PeerRecordError('encoding', 'not bytes')
  if (bytes.length > MAX_PEER_RECORD_BYTES) throw new PeerRecordError('size', `${bytes.length} bytes, over the ${MAX_PEER_RECORD_BYTES}-byte limit`)
  let value: any
  try {
    value = dagCbor.decode(bytes)
  } catch (err) {
    throw new PeerRecordError('encoding', `not dag-cbor (${(err as Error).message})`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) throw new PeerRecordError('encoding', 'not a map')
  const keys = Object.keys(value).sort()
  if (keys.join() !== FIELDS.join()) throw new PeerRecordError('fields', `fields are [${keys.join(', ').slice(0, 200)}], expected [${FIELDS.join(', ')}]`)
  const problem = fieldProblem(value)
  if (problem) throw new PeerRecordError('fields', problem)
  if (!(value.sig instanceof Uint8Array) || value.sig.length !== 64) throw new PeerRecordError('fields', 'sig is not a 64-byte signature')
  const canonical = dagCbor.encode(value)
  if (Buffer.compare(Buffer.from(canonical), Buffer.from(bytes)) !== 0) throw new PeerRecordError('encoding', 'not in canonical dag-cbor form')
  if (value.time > now + MAX_FUTURE_SKEW_MS) throw new PeerRecordError('future', `time is ${Math.round((value.time - now) / 1000)} s in the future`)
  if (value.time + ttl <= now) throw new PeerRecordError('stale', `record is ${Math.round((now - value.time) / 60_000)} min old, older than the ${Math.round(ttl / 60_000)}-min freshness window`)
  const stamp = stampProblem(value.stamp, stampResource(value.did), value.time, options.minBits)
  if (stamp) throw new PeerRecordError('stamp', stamp)
  const {sig, ...unsigned} = value
  if (!verifySignature(value.did, signingBytes(unsigned), sig)) throw new PeerRecordError('signature', `signature does not verify for ${value.did}`)
  return {record: value as PeerRecord, bytes, cid: cidOf(DAG_CBOR_CODE, bytes)}
}

/** When a record stops being fresh. */
export const expiresAt = (record: PeerRecord, ttlMs = RECORD_TTL_MS) => record.time + ttlMs
