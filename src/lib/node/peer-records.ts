import {decodePeerRecord, expiresAt, stampResource, type SignedPeerRecord} from '../records/peer-record.js'
import {SpentStamps} from '../records/stamp.js'
import type {Log} from './components.js'
import type {PeerTable} from './peer-table.js'

/** Gossip de-duplication memory (record CIDs), like the spent stamps: bounded, pruned when records expire. */
export const MAX_SEEN = 100_000
/** A peer whose registration failed is tried again after this long (when its record comes by again). */
export const REGISTER_RETRY_MS = 30_000

/** What the record check uses of the node. */
export interface RecordCheckComponents {
  /** This node's did (its own record is skipped). */
  did: string
  /** The stamp difficulty demanded of others' records (setting stampBits). */
  stampBits: number
  peers: Pick<PeerTable, 'get'>
  log: Log
  /** Whether a registration with `did` is under way (Admission.pending). */
  registering(did: string): boolean
}

/**
 * The checks every peer record from the network passes before use (draft 000
 * "peer record"): it decodes and verifies (signature, stamp of stampBits),
 * it is not older than the one held, its stamp was not spent on another
 * record, and it is not a duplicate already handled (gossip de-duplication).
 * Also remembers the peers whose registration failed lately.
 */
export class RecordCheck {
  private readonly spent = new SpentStamps()
  /** Record CID → when it expires: records already handled (gossip de-duplication). */
  private readonly seen = new Map<string, number>()
  /** Peers whose registration failed lately: did → when (retried after REGISTER_RETRY_MS). */
  private readonly failed = new Map<string, number>()

  constructor(private readonly c: RecordCheckComponents) {}

  decode(bytes: Uint8Array): SignedPeerRecord {
    return decodePeerRecord(bytes, {minBits: this.c.stampBits})
  }

  /**
   * Decodes and checks one record; null (with the reason logged) when it is
   * bad, and quietly null when it is a duplicate or this node's own.
   * `allowSeen`: an announce may bring a record already seen (its sender registers with it).
   */
  check(bytes: Uint8Array, from: string, {allowSeen = false} = {}): SignedPeerRecord | null {
    let r: SignedPeerRecord
    try {
      r = this.decode(bytes)
    } catch (err) {
      this.c.log(`peer record from ${from} refused: ${(err as Error).message}`)
      return null
    }
    const {record} = r
    if (record.did === this.c.did) return null
    const key = r.cid.toString()
    const now = Date.now()
    const seenUntil = this.seen.get(key)
    const held = this.c.peers.get(record.did)
    if (held?.recordTime != null && record.time < held.recordTime) {
      this.c.log(`peer record from ${from} refused: replayed (${record.did}'s record of ${new Date(record.time).toISOString()} is older than the one held)`)
      return null
    }
    if (seenUntil === undefined || seenUntil <= now) {
      // A stamp pays for one record: the same stamp under different content is a replay.
      if (!this.spent.spend(stampResource(record.did), record.time, record.stamp, expiresAt(record), now)) {
        this.c.log(`peer record from ${from} refused: replayed stamp (already spent on another record of ${record.did})`)
        return null
      }
      if (this.seen.size >= MAX_SEEN) this.prune(now)
      this.seen.set(key, expiresAt(record))
    }
    if (held?.recordTime != null && record.time === held.recordTime) return allowSeen ? r : null
    // Seen before but not in the table: its registration failed or was refused; retried after a pause.
    if (!allowSeen && (this.c.registering(record.did) || (this.failed.get(record.did) ?? 0) > now - REGISTER_RETRY_MS)) return null
    return r
  }

  /** A registration with `did` failed: its records are not tried again for REGISTER_RETRY_MS. */
  noteFailed(did: string): void {
    if (this.failed.size >= MAX_SEEN) this.failed.clear()
    this.failed.set(did, Date.now())
  }

  noteRegistered(did: string): void {
    this.failed.delete(did)
  }

  private prune(now: number): void {
    for (const [k, until] of this.seen) if (until <= now) this.seen.delete(k)
    this.spent.prune(now)
    if (this.seen.size >= MAX_SEEN) this.seen.clear() // full of live entries: forget (costs only repeated checks)
  }
}
