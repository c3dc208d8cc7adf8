import type {Database} from '../store/db.js'

/** Consecutive failures after which a peer is suspect, then dead (not used for placement). */
export const SUSPECT_AFTER = 2
export const DEAD_AFTER = 4
/** A peer that sent this many bad blocks is dropped (STYLE.md: counted, backed off, dropped). */
export const MAX_BAD_BLOCKS = 3

export type PeerState = 'alive' | 'suspect' | 'dead'

export interface Peer {
  did: string
  url: string
  services: string
  firstSeen: number
  lastSeen: number
  rttMs: number | null
  failures: number
  badBlocks: number
  state: PeerState
  learnedFrom: string | null
}

/** The peers this node knows, in polar.db. Short synchronous transactions only. */
export class PeerTable {
  constructor(private readonly db: Database, private readonly selfDid: string) {}

  /** Records a peer we have heard from directly (alive now), with the service string from its hello. */
  upsert(did: string, url: string, learnedFrom: string | null, now = Date.now(), services: unknown = ''): void {
    if (did === this.selfDid) return
    this.db.prepare(`INSERT INTO peers (did, url, services, first_seen, last_seen, learned_from) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT(did) DO UPDATE SET url = excluded.url, services = excluded.services, last_seen = excluded.last_seen, failures = 0, state = 'alive'`)
      .run(did, url, serviceString(services), now, now, learnedFrom)
  }

  markAlive(did: string, rttMs: number, now = Date.now()): void {
    this.db.prepare(`UPDATE peers SET last_seen = ?, rtt_ms = ?, failures = 0, state = 'alive' WHERE did = ?`).run(now, Math.round(rttMs), did)
  }

  markFailure(did: string): void {
    this.db.prepare(`UPDATE peers SET failures = failures + 1,
      state = CASE WHEN failures + 1 >= ${DEAD_AFTER} THEN 'dead' WHEN failures + 1 >= ${SUSPECT_AFTER} THEN 'suspect' ELSE state END
      WHERE did = ?`).run(did)
  }

  /** Counts a bad block from a peer; returns true when the peer was dropped for it. */
  markBadBlock(did: string): boolean {
    this.db.prepare('UPDATE peers SET bad_blocks = bad_blocks + 1 WHERE did = ?').run(did)
    const p = this.get(did)
    if (p && p.badBlocks >= MAX_BAD_BLOCKS) {
      this.remove(did)
      return true
    }
    return false
  }

  get(did: string): Peer | undefined {
    const row = this.db.prepare('SELECT * FROM peers WHERE did = ?').get(did)
    return row ? toPeer(row) : undefined
  }

  byUrl(url: string): Peer | undefined {
    const row = this.db.prepare('SELECT * FROM peers WHERE url = ?').get(url)
    return row ? toPeer(row) : undefined
  }

  list(filter: {states?: PeerState[]} = {}): Peer[] {
    const rows = this.db.prepare('SELECT * FROM peers ORDER BY first_seen, did').all()
    const peers = rows.map(toPeer)
    return filter.states ? peers.filter((p) => filter.states!.includes(p.state)) : peers
  }

  /** Peers that placement and pulls may use. */
  live(): Peer[] {
    return this.list({states: ['alive', 'suspect']})
  }

  remove(did: string): boolean {
    return this.db.prepare('DELETE FROM peers WHERE did = ?').run(did).changes === 1
  }
}

/** A peer's hello is hostile input: keep its service string a short printable string. */
export const MAX_SERVICES_LENGTH = 256
function serviceString(value: unknown): string {
  return typeof value === 'string' ? value.replace(/[^\x20-\x7e]/g, '').slice(0, MAX_SERVICES_LENGTH) : ''
}

function toPeer(row: any): Peer {
  return {
    did: row.did, url: row.url, services: row.services, firstSeen: row.first_seen, lastSeen: row.last_seen,
    rttMs: row.rtt_ms, failures: row.failures, badBlocks: row.bad_blocks, state: row.state, learnedFrom: row.learned_from,
  }
}
