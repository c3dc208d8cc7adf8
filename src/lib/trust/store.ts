import type {Database} from '../store/db.js'
import {decodeTrustRecord, type TrustEntry, type TrustRecord} from '../records/trust-record.js'
import type {SignedRecord} from '../records/object-record.js'
import {MAX_HOPS, trustScore, allScores, type TrustGraph, type TrustScore} from './score.js'

export interface PutResult {
  /** False when this node already had this record or a newer one of the same owner. */
  stored: boolean
  signed: SignedRecord<TrustRecord>
}

/**
 * The trust records a node knows (trust_records, trust_edges): one per owner,
 * the newest by record time. Only records that verify get in.
 */
export class TrustStore implements TrustGraph {
  constructor(private readonly db: Database) {}

  /** Verifies and keeps a trust record unless one at least as new is already here. Throws IntegrityError when it does not verify. */
  put(bytes: Uint8Array, now = Date.now()): PutResult {
    const signed = decodeTrustRecord(bytes)
    const r = signed.record
    const cid = signed.cid.toString()
    const stored = this.db.transaction(() => {
      const old = this.db.prepare('SELECT time, cid FROM trust_records WHERE owner = ?').get(r.owner) as {time: number; cid: string} | undefined
      // Newest wins; two records at the same millisecond are ordered by CID, so every node keeps the same one.
      if (old && (old.time > r.time || (old.time === r.time && old.cid >= cid))) return false
      this.db.prepare('DELETE FROM trust_edges WHERE truster = ?').run(r.owner)
      this.db.prepare('INSERT OR REPLACE INTO trust_records (owner, cid, time, bytes, received) VALUES (?, ?, ?, ?, ?)').run(r.owner, cid, r.time, bytes, now)
      const edge = this.db.prepare('INSERT INTO trust_edges (truster, trusted, weight) VALUES (?, ?, ?)')
      for (const e of r.trusts) edge.run(r.owner, e.did, e.weight)
      return true
    }).immediate()
    return {stored, signed}
  }

  /** The signed bytes of `owner`'s newest record here. */
  bytesOf(owner: string): Uint8Array | undefined {
    return (this.db.prepare('SELECT bytes FROM trust_records WHERE owner = ?').get(owner) as {bytes: Buffer} | undefined)?.bytes
  }

  /** `owner`'s record as stored: entries and time (entries empty, time 0 when none). */
  recordOf(owner: string): {entries: TrustEntry[]; time: number; cid: string | null} {
    const row = this.db.prepare('SELECT time, cid FROM trust_records WHERE owner = ?').get(owner) as {time: number; cid: string} | undefined
    return {entries: row ? [...this.out(owner)] : [], time: row?.time ?? 0, cid: row?.cid ?? null}
  }

  out(did: string): TrustEntry[] {
    return this.db.prepare('SELECT trusted AS did, weight FROM trust_edges WHERE truster = ? ORDER BY trusted').all(did) as TrustEntry[]
  }

  score(self: string, target: string, options: {withPaths?: boolean} = {}): TrustScore {
    return trustScore(this, self, target, options)
  }

  /** Identities within MAX_HOPS - 1 hops of `self` (whose records decide 3-hop scores), nearest first. */
  neighbourhood(self: string): string[] {
    const seen = new Set<string>([self])
    let layer = [self]
    for (let hop = 1; hop < MAX_HOPS && layer.length; hop++) {
      const next: string[] = []
      for (const d of layer) for (const e of this.out(d)) if (!seen.has(e.did)) {
        seen.add(e.did)
        next.push(e.did)
      }
      layer = next
    }
    return [...seen]
  }

  scores(self: string): Map<string, number> {
    return allScores(this, self)
  }

  count(): number {
    return this.db.prepare('SELECT count(*) FROM trust_records').pluck().get() as number
  }
}
