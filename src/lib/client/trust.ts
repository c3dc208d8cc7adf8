/**
 * The trust commands over any target (issue 5; docs/protocol.md "Trust"):
 * the record is read where the target keeps it, verified here, changed,
 * re-signed here with the user's key (it never leaves this home) and
 * published back. Each client supplies a TrustPort; the rest is the same.
 */
import {InputError, IntegrityError} from '../errors.js'
import {isDid, type Identity} from '../identity/index.js'
import {decodeTrustRecord, signTrustRecord, type TrustEntry} from '../records/trust-record.js'
import {changeEntries, type TrustChange} from '../trust/change.js'
import type {ScoreResult, TrustChangeResult} from './index.js'

/** How a target reads and stores trust records and scores. */
export interface TrustPort {
  /** `owner`'s current record as base64 (as the APIs carry it), or null when there is none. */
  record(owner: string): Promise<unknown>
  /** Stores a signed record; true when it was new there. */
  publish(bytes: Uint8Array): Promise<boolean>
  /** The score of `did` from `self` as the target computes it ({score, paths, pathCount?}). */
  score(self: string, did: string): Promise<unknown>
}

/** The current trust record of `owner` through `port`, verified (null when there is none). */
async function currentRecord(port: TrustPort, owner: string): Promise<{entries: TrustEntry[]; time: number} | null> {
  const b64 = await port.record(owner)
  if (b64 === null) return null
  if (typeof b64 !== 'string') throw new IntegrityError('the node answered with a trust record that is not base64 text')
  const {record} = decodeTrustRecord(Buffer.from(b64, 'base64'))
  if (record.owner !== owner) throw new IntegrityError(`asked for ${owner}'s trust record, got ${record.owner}'s`)
  return {entries: record.trusts.map((e) => ({did: e.did, weight: e.weight})), time: record.time}
}

export async function listTrust(port: TrustPort, owner: string): Promise<TrustEntry[]> {
  return (await currentRecord(port, owner))?.entries ?? []
}

/** `trust add` / `trust rm`: re-signs `identity`'s record with the change and publishes it. */
export async function changeTrust(port: TrustPort, identity: Identity, change: TrustChange): Promise<TrustChangeResult> {
  if (!isDid(change.did)) throw new InputError(`not an ed25519 did:key: ${JSON.stringify(change.did.slice(0, 80))}`)
  const current = await currentRecord(port, identity.did)
  const entries = changeEntries(identity.did, current?.entries ?? [], change)
  // Newer than what is out there, even with a clock behind: newest wins everywhere.
  const signed = signTrustRecord(entries, identity, Math.max(Date.now(), (current?.time ?? 0) + 1))
  const stored = await port.publish(signed.bytes)
  return {owner: identity.did, trusts: signed.record.trusts, record: signed.cid.toString(), stored}
}

export async function scoreTrust(port: TrustPort, self: string, did: string): Promise<ScoreResult> {
  if (!isDid(did)) throw new InputError(`not an ed25519 did:key: ${JSON.stringify(did.slice(0, 80))}`)
  const r = await port.score(self, did) as any
  if (typeof r?.score !== 'number' || !Array.isArray(r?.paths)) throw new IntegrityError('the node answered a trust score in an unexpected shape')
  return {did, score: r.score, paths: r.paths, pathCount: typeof r.pathCount === 'number' ? r.pathCount : r.paths.length}
}

/** What `trust add` / `trust rm` say after a change, on stderr. */
export function changeNote(did: string, r: {trusts: unknown[]; stored: boolean}): string {
  const n = r.trusts.length
  return `${did} now trusts ${n} identit${n === 1 ? 'y' : 'ies'}; ${r.stored ? 'record published' : 'record not stored: the node already holds it or a newer one'}`
}
