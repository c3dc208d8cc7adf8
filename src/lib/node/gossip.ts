import type {SignedPeerRecord} from '../records/peer-record.js'
import {type Admission, DIAL_PER_MINUTE} from './admission.js'
import type {ClientFor, Log, Track} from './components.js'
import type {NodeSettings} from './node-settings.js'
import type {RecordCheck} from './peer-records.js'
import type {PeerTable} from './peer-table.js'
import {CONTACT_TIMEOUT_MS, type Registration} from './registration.js'

/** Registrations (dial-backs) in flight at once. */
const REGISTER_CONCURRENCY = 8
const FIRST_PULL_MS = 2_000

/** What gossip uses of the node and of the other discovery parts. */
export interface GossipComponents {
  settings: Pick<NodeSettings, 'seedAnswerMax' | 'gossipFanout' | 'pullIntervalMs'>
  peers: Pick<PeerTable, 'get' | 'refreshRecord' | 'live'>
  client: ClientFor
  log: Log
  track: Track
  admission: Admission
  records: RecordCheck
  registration: Pick<Registration, 'registerWith'>
  /** Records to pass on at the next gossip round (registration adds to it too). */
  outbox: Map<string, Uint8Array>
  signal: AbortSignal
}

/**
 * Gossip (draft 002 BROADCAST-PEER, PEER-LIST): batches of peer records from
 * seed answers, gossip messages and pulls are checked, refresh what the table
 * holds, and make this node register with peers it did not know (within the
 * sender's dial-back budget); new records are passed on to a few random peers,
 * and now and then one peer is asked for its peers.
 */
export class Gossip {
  private active = 0
  private readonly waiting: Array<() => void> = []
  /** Pulls start often (a network that is forming) and slow down to pullIntervalMs. */
  private pullGap = FIRST_PULL_MS
  private nextPull = Date.now() + FIRST_PULL_MS

  constructor(private readonly c: GossipComponents) {}

  /**
   * Takes a batch of record bytes from a seed answer, a gossip message or a
   * pull: at most seedAnswerMax are looked at (an answer never fills the
   * table alone), each is checked, and every peer not known is registered
   * with. Resolves when those registrations are done.
   */
  async learn(batch: Uint8Array[], from: string, source?: string): Promise<{learned: number; registered: number}> {
    const cap = this.c.settings.seedAnswerMax
    if (batch.length > cap) {
      this.c.log(`${from} sent ${batch.length} peer records; only the first ${cap} are considered`)
      batch = batch.slice(0, cap)
    }
    const unknown: SignedPeerRecord[] = []
    for (const bytes of batch) {
      const r = this.c.records.check(bytes, from)
      if (!r) continue
      const held = this.c.peers.get(r.record.did)
      if (held && held.url === r.record.urls[0]) {
        this.c.peers.refreshRecord(r.record.did, r.record.services, r.record.urls, r.bytes, r.record.time)
        this.c.outbox.set(r.cid.toString(), r.bytes)
      } else unknown.push(r)
    }
    // Every new peer costs a dial: the sender's budget decides how many of its records are dialled now (the rest may come again).
    let overBudget = 0
    const affordable = unknown.filter((r) => {
      if (this.c.admission.pending.has(r.record.did)) return false
      try {
        this.c.admission.takeDial(source)
        return true
      } catch {
        overBudget++
        return false
      }
    })
    if (overBudget) this.c.log(`${from}: ${overBudget} new peer record(s) not dialled (over ${DIAL_PER_MINUTE} dial-backs a minute from ${source})`)
    const reserved = await Promise.all(affordable.map(async (r) => (await this.c.admission.reserve(r.record.did, r.record.urls[0], from)) === null ? null : r))
    const admitted = reserved.filter((r): r is SignedPeerRecord => r !== null)
    const done = await Promise.all(admitted.map((r) => this.limited(() => this.c.registration.registerWith(r, from))))
    return {learned: unknown.length, registered: done.filter(Boolean).length}
  }

  /** POST /v1/peers/gossip: records passed on by another node. Answers at once; registrations go on in the background. */
  accept(batch: Uint8Array[], from: string, source?: string): number {
    const work = this.learn(batch, from, source)
    this.c.track(work.catch(() => ({learned: 0, registered: 0})))
    return Math.min(batch.length, this.c.settings.seedAnswerMax)
  }

  /** One gossip round: pass new records to a few random peers; now and then pull from one. */
  async round(): Promise<void> {
    const now = Date.now()
    if (this.c.outbox.size > 0) {
      const records = [...this.c.outbox.values()]
      this.c.outbox.clear()
      const targets = pickRandom(this.c.peers.live().filter((p) => p.recordTime !== null), this.c.settings.gossipFanout)
      const max = this.c.settings.seedAnswerMax
      await Promise.all(targets.map(async (p) => {
        for (let i = 0; i < records.length; i += max) {
          try {
            await this.c.client(p).discovery.gossip(records.slice(i, i + max), {timeoutMs: CONTACT_TIMEOUT_MS, signal: this.c.signal})
          } catch {
            return // liveness pings judge the peer; gossip just moves on
          }
        }
      }))
    }
    if (now >= this.nextPull) {
      this.pullGap = Math.min(this.pullGap * 2, this.c.settings.pullIntervalMs)
      this.nextPull = now + this.pullGap
      await this.pullOnce()
    }
  }

  /** Periodic pull: ask one random live peer that has a record for the peers it knows. */
  async pullOnce(): Promise<void> {
    const [p] = pickRandom(this.c.peers.live().filter((x) => x.recordTime !== null), 1)
    if (!p) return
    try {
      await this.learn(await this.c.client(p).discovery.seed({timeoutMs: CONTACT_TIMEOUT_MS * 2, signal: this.c.signal}), `pull from ${p.did}`, p.address ?? undefined)
    } catch (err) {
      if (!this.c.signal.aborted) this.c.log(`pull from ${p.url} failed: ${(err as Error).message}`)
    }
  }

  /** At most REGISTER_CONCURRENCY registrations at once. */
  private async limited<T>(fn: () => Promise<T>): Promise<T> {
    while (this.active >= REGISTER_CONCURRENCY) await new Promise<void>((r) => this.waiting.push(r))
    this.active++
    try {
      return await fn()
    } finally {
      this.active--
      this.waiting.shift()?.()
    }
  }
}

export function pickRandom<T>(items: T[], n: number): T[] {
  const a = items.slice()
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[a[i], a[j]] = [a[j], a[i]]
  }
  return a.slice(0, n)
}
