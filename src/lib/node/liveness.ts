import {RECORD_REFRESH_MS} from '../records/peer-record.js'
import type {ClientFor, Log} from './components.js'
import type {NodeSettings} from './node-settings.js'
import type {Peer, PeerTable} from './peer-table.js'

const PING_CONCURRENCY = 16
/** Out-of-turn pings of down peers (reping): at most one sweep a second, each ping this short. */
export const REPING_MIN_INTERVAL_MS = 1_000
export const REPING_TIMEOUT_MS = 1_500
/** Peers greeted at start (most recently seen first), and how long each greeting may take. */
export const GREET_MAX_PEERS = 64
export const GREET_TIMEOUT_MS = 10_000

/** What liveness uses of the node and of the other discovery parts. */
export interface LivenessComponents {
  settings: Pick<NodeSettings, 'forgetDeadAfterMs'>
  peers: Pick<PeerTable, 'forgetDead' | 'duePings' | 'list' | 'markAlive' | 'markFailure'>
  client: ClientFor
  log: Log
  /** Fetches a peer's current record (its seed answer starts with it) when the one held is about to go stale. */
  refreshRecord(p: Peer): Promise<void>
  /** Sends this node's record to `p` (a signed announce): `p` dials back and marks this node alive. */
  announceTo(p: Peer, timeoutMs: number): Promise<void>
  /** Aborted when the node stops. */
  signal: AbortSignal
}

/**
 * Liveness of the peer table: the ping loop (each peer when its turn comes,
 * PeerTable back-off), re-pings out of turn of peers not alive, and at start
 * a greeting of the peers known from before (issue 14): a node restarted
 * after it was marked dead would otherwise stay dead to them for deadRetryMs.
 */
export class Liveness {
  private repinging?: Promise<boolean>
  private lastReping = 0

  constructor(private readonly c: LivenessComponents) {}

  /** The ping loop's turn: pings the peers whose turn it is; forgets long-dead peers. */
  async pingDue(): Promise<void> {
    const now = Date.now()
    const forgotten = this.c.peers.forgetDead(now - this.c.settings.forgetDeadAfterMs)
    if (forgotten) this.c.log(`forgot ${forgotten} peer(s) dead for more than ${Math.round(this.c.settings.forgetDeadAfterMs / 3_600_000)} h`)
    const due = this.c.peers.duePings(now)
    await eachLimited(due, PING_CONCURRENCY, async (p) => {
      if (!(await this.ping(p))) return
      // A record about to go stale: fetch the peer's current one.
      if (p.recordTime !== null && Date.now() - p.recordTime > 2 * RECORD_REFRESH_MS) {
        try {
          await this.c.refreshRecord(p)
        } catch {
          if (!this.c.signal.aborted) this.c.peers.markFailure(p.did)
        }
      }
    })
  }

  /**
   * One liveness ping (hello): alive with its round-trip time when it answers
   * as `did`, else a failure (PeerTable back-off). Resolves whether the peer answered.
   */
  async ping(p: {did: string; url: string; address?: string | null}, timeoutMs = 3_000): Promise<boolean> {
    const started = performance.now()
    try {
      const hello = await this.c.client(p).hello({timeoutMs, signal: this.c.signal})
      if (hello.did !== p.did) throw new Error(`answers as ${hello.did}`)
      this.c.peers.markAlive(p.did, performance.now() - started)
      return true
    } catch {
      if (!this.c.signal.aborted) this.c.peers.markFailure(p.did)
      return false
    }
  }

  /**
   * Pings, out of turn, the peers not marked alive (or only `did`): after a
   * partition heals or a peer restarts, a pull that finds no holder among the
   * live peers, or a signed request from a peer we had given up on, need not
   * wait for the dead-peer back-off of the ping loop. At most one sweep at a
   * time and one a second; resolves true when a peer came back.
   */
  reping(did?: string): Promise<boolean> {
    if (this.c.signal.aborted) return Promise.resolve(false)
    if (this.repinging) return this.repinging
    if (did === undefined && Date.now() - this.lastReping < REPING_MIN_INTERVAL_MS) return Promise.resolve(false)
    const down = this.c.peers.list().filter((p) => p.state !== 'alive' && (did === undefined || p.did === did))
    if (down.length === 0) return Promise.resolve(false)
    if (did === undefined) this.lastReping = Date.now()
    const sweep = Promise.all(down.map((p) => this.ping(p, REPING_TIMEOUT_MS)))
      .then((ok) => ok.some(Boolean))
      .finally(() => { this.repinging = undefined })
    this.repinging = sweep
    return sweep
  }

  /**
   * At start: announces this node to the peers in its table (at most
   * GREET_MAX_PEERS, most recently seen first, PING_CONCURRENCY at once).
   * The announce is signed and carries our record, so each peer dials back
   * and marks this node alive at once, even one that had marked it dead and
   * would otherwise retry it only after deadRetryMs. A peer that answers is
   * alive here too. Returns how many were greeted.
   */
  async greet(): Promise<number> {
    const known = this.c.peers.list().sort((a, b) => b.lastSeen - a.lastSeen).slice(0, GREET_MAX_PEERS)
    let greeted = 0
    await eachLimited(known, PING_CONCURRENCY, async (p) => {
      const started = performance.now()
      try {
        await this.c.announceTo(p, GREET_TIMEOUT_MS)
        this.c.peers.markAlive(p.did, performance.now() - started)
        greeted++
      } catch (err) {
        if (this.c.signal.aborted) return
        // Not a failed ping: a refusal (a cap, a busy peer) says nothing of liveness; the ping loop judges.
        this.c.log(`greeting ${p.url} at start failed: ${(err as Error).message}`)
      }
    })
    if (known.length) this.c.log(`greeted ${greeted} of ${known.length} known peer(s) at start`)
    return greeted
  }
}

/** Runs `fn` over `items`, at most `limit` at once. */
async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({length: Math.min(limit, items.length)}, async () => {
    for (let i = next++; i < items.length; i = next++) await fn(items[i])
  }))
}
