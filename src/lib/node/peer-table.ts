import type {Database} from '../store/db.js'

/** Consecutive failures after which a peer is suspect, then dead (not used for placement). */
export const SUSPECT_AFTER = 2
export const DEAD_AFTER = 4
/** A peer that sent this many bad blocks is dropped (STYLE.md: counted, backed off, dropped). */
export const MAX_BAD_BLOCKS = 3
/**
 * A dropped peer may not come back for BAN_BASE_MS after its first drop, and
 * twice as long after each further one, up to BAN_MAX_MS (issue 20: it used
 * to re-register at once, since registering is all it takes).
 */
export const BAN_BASE_MS = 15 * 60_000
export const BAN_MAX_MS = 7 * 24 * 60 * 60_000
/** Bans over for this long are forgotten (with their strike count). */
const BAN_MEMORY_MS = 30 * 24 * 60 * 60_000

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
  /** Every URL the peer's record announces (url is the one dialled). */
  urls: string[]
  /** Time of the latest verified peer record held (the bytes: records()), null for peers added by URL. */
  recordTime: number | null
  address: string | null
  nextPing: number
  backoffMs: number
  deadSince: number | null
}

/** The liveness schedule (settings): pings back off with failures; dead peers are retried rarely, then forgotten. */
export interface LivenessSchedule {
  pingIntervalMs: number
  /** Longest gap between pings of a peer that is not dead. */
  maxBackoffMs: number
  /** Gap between retries of a dead peer. */
  deadRetryMs: number
}

/** SQL (in putRecord's upsert): the record coming in is not older than the one held. */
const NEWER = '(record_time IS NULL OR excluded.record_time >= record_time)'

/** The peers this node knows, in polar.db. Short synchronous transactions only. */
export class PeerTable {
  constructor(private readonly db: Database, private readonly selfDid: string) {}

  /**
   * Records a peer we have heard from directly (alive now), with the service
   * string from its hello (and its address: for the subnet caps, and the one
   * address the node's client dials). An address belongs to its URL: a new
   * URL without one drops the old one.
   */
  upsert(did: string, url: string, learnedFrom: string | null, now = Date.now(), services: unknown = '', address: string | null = null): void {
    if (did === this.selfDid) return
    this.db.prepare(`INSERT INTO peers (did, url, services, first_seen, last_seen, learned_from, address) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT(did) DO UPDATE SET url = excluded.url, services = excluded.services, last_seen = excluded.last_seen, failures = 0, state = 'alive', dead_since = NULL,
        address = CASE WHEN excluded.address IS NOT NULL THEN excluded.address WHEN excluded.url = url THEN address END`)
      .run(did, url, serviceString(services), now, now, learnedFrom, address)
  }

  /** How pings are spaced (set by the node from its settings). */
  schedule: LivenessSchedule = {pingIntervalMs: 10_000, maxBackoffMs: 5 * 60_000, deadRetryMs: 30 * 60_000}

  markAlive(did: string, rttMs: number, now = Date.now()): void {
    this.db.prepare(`UPDATE peers SET last_seen = ?, rtt_ms = ?, failures = 0, state = 'alive', dead_since = NULL, backoff_ms = 0, next_ping = ? WHERE did = ?`)
      .run(now, Math.round(rttMs), now + this.schedule.pingIntervalMs, did)
  }

  /**
   * A failed contact: suspect after SUSPECT_AFTER in a row, dead after
   * DEAD_AFTER. The next ping backs off (doubling, up to maxBackoffMs); a dead
   * peer is retried only every deadRetryMs.
   */
  markFailure(did: string, now = Date.now()): void {
    const p = this.db.prepare('SELECT failures, backoff_ms, dead_since FROM peers WHERE did = ?').get(did) as {failures: number; backoff_ms: number; dead_since: number | null} | undefined
    if (!p) return
    const failures = p.failures + 1
    const state: PeerState = failures >= DEAD_AFTER ? 'dead' : failures >= SUSPECT_AFTER ? 'suspect' : 'alive'
    const {pingIntervalMs, maxBackoffMs, deadRetryMs} = this.schedule
    const backoff = state === 'dead' ? deadRetryMs : Math.min(maxBackoffMs, Math.max(pingIntervalMs, p.backoff_ms * 2 || pingIntervalMs))
    this.db.prepare(`UPDATE peers SET failures = ?, state = CASE WHEN ? = 'alive' THEN state ELSE ? END, backoff_ms = ?, next_ping = ?, dead_since = ? WHERE did = ?`)
      .run(failures, state, state, backoff, now + backoff, state === 'dead' ? (p.dead_since ?? now) : null, did)
  }

  /** Peers whose next liveness ping is due. */
  duePings(now = Date.now()): Peer[] {
    return this.db.prepare(`SELECT ${PEER_COLUMNS} FROM peers WHERE next_ping <= ? ORDER BY next_ping`).all(now).map(toPeer)
  }

  /** Forgets peers dead since before `before`; returns how many. */
  forgetDead(before: number): number {
    return this.db.prepare(`DELETE FROM peers WHERE state = 'dead' AND dead_since IS NOT NULL AND dead_since < ?`).run(before).changes
  }

  /**
   * Records a peer that came with a verified signed record and answered at its
   * URL (the caller checked both). A newer record replaces an older one; an
   * older one (a replay, or two registrations crossing) only marks the peer
   * alive: its URL, services, record and address stay those of the newer.
   */
  putRecord(entry: {did: string; url: string; urls: string[]; services: string; record: Uint8Array; recordTime: number; address: string | null; learnedFrom: string | null; rttMs?: number}, now = Date.now()): void {
    if (entry.did === this.selfDid) return
    const rtt = entry.rttMs === undefined ? null : Math.round(entry.rttMs)
    this.db.prepare(`INSERT INTO peers (did, url, services, first_seen, last_seen, learned_from, record, record_time, urls, address, rtt_ms, next_ping, backoff_ms)
      VALUES (@did, @url, @services, @now, @now, @learnedFrom, @record, @recordTime, @urls, @address, @rtt, @next, 0)
      ON CONFLICT(did) DO UPDATE SET last_seen = excluded.last_seen, rtt_ms = COALESCE(excluded.rtt_ms, rtt_ms),
        failures = 0, state = 'alive', dead_since = NULL, next_ping = excluded.next_ping, backoff_ms = 0,
        url = CASE WHEN ${NEWER} THEN excluded.url ELSE url END, services = CASE WHEN ${NEWER} THEN excluded.services ELSE services END, record = CASE WHEN ${NEWER} THEN excluded.record ELSE record END, urls = CASE WHEN ${NEWER} THEN excluded.urls ELSE urls END,
        address = CASE WHEN ${NEWER} THEN COALESCE(excluded.address, address) ELSE address END, record_time = CASE WHEN ${NEWER} THEN excluded.record_time ELSE record_time END`)
      .run({...entry, services: serviceString(entry.services), urls: JSON.stringify(entry.urls), now, rtt, next: now + this.schedule.pingIntervalMs})
  }

  /** A newer record for a peer already in the table whose URL did not change (no dial-back needed). */
  refreshRecord(did: string, services: string, urls: string[], record: Uint8Array, recordTime: number): void {
    this.db.prepare('UPDATE peers SET services = ?, urls = ?, record = ?, record_time = ? WHERE did = ?')
      .run(serviceString(services), JSON.stringify(urls), record, recordTime, did)
  }

  /** The records of peers that are not dead and whose record is newer than `since`, newest first. */
  records(since: number, limit: number): Array<{did: string; record: Uint8Array}> {
    return this.db.prepare(`SELECT did, record FROM peers WHERE record IS NOT NULL AND record_time > ? AND state != 'dead' ORDER BY record_time DESC LIMIT ?`).all(since, limit) as any
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM peers').get() as {n: number}).n
  }

  /** Counts a bad block from a peer; returns true when the peer was dropped (and banned) for it. */
  markBadBlock(did: string, now = Date.now()): boolean {
    this.db.prepare('UPDATE peers SET bad_blocks = bad_blocks + 1 WHERE did = ?').run(did)
    const p = this.get(did)
    if (p && p.badBlocks >= MAX_BAD_BLOCKS) {
      this.db.transaction(() => {
        this.remove(did)
        this.ban(did, p.address, now)
      }).immediate()
      return true
    }
    return false
  }

  /**
   * Keeps a dropped peer out (peer_bans): for BAN_BASE_MS after its first
   * drop, doubling with each further one up to BAN_MAX_MS. Returns the end of the ban.
   */
  ban(did: string, address: string | null, now = Date.now()): number {
    this.db.prepare('DELETE FROM peer_bans WHERE until < ?').run(now - BAN_MEMORY_MS)
    const strikes = ((this.db.prepare('SELECT strikes FROM peer_bans WHERE did = ?').pluck().get(did) as number | undefined) ?? 0) + 1
    const until = now + Math.min(BAN_MAX_MS, BAN_BASE_MS * 2 ** Math.min(strikes - 1, 30))
    this.db.prepare(`INSERT INTO peer_bans (did, address, strikes, until) VALUES (?, ?, ?, ?)
      ON CONFLICT(did) DO UPDATE SET address = COALESCE(excluded.address, address), strikes = excluded.strikes, until = excluded.until`).run(did, address, strikes, until)
    return until
  }

  /**
   * When the ban on `did` (or on `address`, when given) ends, or null when
   * neither is banned now. Callers pass no address for loopback unless the
   * subnet caps apply to it (many nodes on one machine share it).
   */
  bannedUntil(did: string, address: string | null, now = Date.now()): number | null {
    const until = this.db.prepare('SELECT max(until) FROM peer_bans WHERE (did = ? OR (? IS NOT NULL AND address = ?)) AND until > ?').pluck().get(did, address, address, now) as number | null
    return until ?? null
  }

  /** Lifts the ban on `did` (the operator added it by hand: `peers add`); its strike count stays. */
  unban(did: string, now = Date.now()): void {
    this.db.prepare('UPDATE peer_bans SET until = min(until, ?) WHERE did = ?').run(now, did)
  }

  /** The record bytes held for a peer. */
  recordOf(did: string): Uint8Array | undefined {
    const row = this.db.prepare('SELECT record FROM peers WHERE did = ?').get(did) as {record: Uint8Array | null} | undefined
    return row?.record ?? undefined
  }

  get(did: string): Peer | undefined {
    const row = this.db.prepare(`SELECT ${PEER_COLUMNS} FROM peers WHERE did = ?`).get(did)
    return row ? toPeer(row) : undefined
  }

  byUrl(url: string): Peer | undefined {
    const row = this.db.prepare(`SELECT ${PEER_COLUMNS} FROM peers WHERE url = ?`).get(url)
    return row ? toPeer(row) : undefined
  }

  list(filter: {states?: PeerState[]} = {}): Peer[] {
    const peers = this.db.prepare(`SELECT ${PEER_COLUMNS} FROM peers ORDER BY first_seen, did`).all().map(toPeer)
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

/** What toPeer reads: every column but the record bytes (read on their own: records(), recordOf()), which list() and live() run on every pull. */
const PEER_COLUMNS = 'did, url, services, first_seen, last_seen, rtt_ms, failures, bad_blocks, state, learned_from, urls, record_time, address, next_ping, backoff_ms, dead_since'

function toPeer(row: any): Peer {
  return {
    did: row.did, url: row.url, services: row.services, firstSeen: row.first_seen, lastSeen: row.last_seen,
    rttMs: row.rtt_ms, failures: row.failures, badBlocks: row.bad_blocks, state: row.state, learnedFrom: row.learned_from,
    urls: parseUrls(row.urls, row.url), recordTime: row.record_time ?? null, address: row.address ?? null,
    nextPing: row.next_ping ?? 0, backoffMs: row.backoff_ms ?? 0, deadSince: row.dead_since ?? null,
  }
}

function parseUrls(text: string | undefined, url: string): string[] {
  try {
    const v = JSON.parse(text ?? '[]')
    if (Array.isArray(v) && v.length) return v.map(String)
  } catch {}
  return [url]
}
