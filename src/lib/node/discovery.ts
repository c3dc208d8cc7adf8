import {isLoopback, unmapV4, urlHost, v6Prefix} from '../net/address.js'
import {lookup} from 'node:dns/promises'
import {isIP} from 'node:net'
import {setTimeout as delay} from 'node:timers/promises'
import {PeerClient} from '../net/client.js'
import {HttpError} from '../net/http.js'
import {decodePeerRecord, expiresAt, mintPeerRecord, RECORD_REFRESH_MS, RECORD_TTL_MS, stampResource, type SignedPeerRecord} from '../net/peer-record.js'
import {SpentStamps} from '../net/stamp.js'
import type {NodeContext} from './context.js'

/** Registrations (dial-backs) in flight at once. */
const REGISTER_CONCURRENCY = 8
const PING_CONCURRENCY = 16
const CONTACT_TIMEOUT_MS = 5_000
/** Gossip de-duplication memory (record CIDs), like the spent stamps: bounded, pruned when records expire. */
const MAX_SEEN = 100_000
/** How long a seed answer waits for this node's first record; then it answers without it (`minting: true`) and the asker retries. */
const SEED_MINT_WAIT_MS = 5_000
/** How long a seed request keeps retrying a seed that is still minting. */
const SEED_RETRY_MS = 60_000
/** A peer whose registration failed is tried again after this long (when its record comes by again). */
const REGISTER_RETRY_MS = 30_000
const FIRST_PULL_MS = 2_000

export interface SeedResult {
  asked: number
  answered: number
  /** Verified records of peers this node did not know. */
  learned: number
  /** Of those, peers that answered at their URL and are now in the table. */
  registered: number
  errors: Array<{url: string; error: string}>
}

/**
 * Discovery (draft 000 "seed request" / "register"; draft 002 PEER-LIST,
 * PEER-INFO, BROADCAST-PEER): this node's signed peer record, seed requests
 * and answers, registration with dial-back, gossip of newly learned records
 * with de-duplication, a periodic pull from a random peer, and the liveness
 * pings of the peer table. Every record is checked by decodePeerRecord and
 * against replays (spent stamps, older than the one held) before use, and a
 * new peer enters the table only after it answered at its URL as its did and
 * within the /24 and /16 caps.
 */
export class Discovery {
  private own: SignedPeerRecord | undefined
  private minting: Promise<SignedPeerRecord> | undefined
  private readonly spent = new SpentStamps()
  /** Record CID → when it expires: records already handled (gossip de-duplication). */
  private readonly seen = new Map<string, number>()
  /** Records to pass on at the next gossip round. */
  private readonly outbox = new Map<string, Uint8Array>()
  /** Peers whose registration failed lately: did → when (retried after REGISTER_RETRY_MS). */
  private readonly failed = new Map<string, number>()
  /** Peers being registered: did → address (counted against the subnet caps). */
  private readonly pending = new Map<string, string>()
  private active = 0
  private readonly waiting: Array<() => void> = []
  /** Pulls start often (a network that is forming) and slow down to pullIntervalMs. */
  private pullGap = FIRST_PULL_MS
  private nextPull = Date.now() + FIRST_PULL_MS
  private readonly abort = new AbortController()

  constructor(private readonly ctx: NodeContext, private readonly services: string) {}

  /** Whether this node takes part in record discovery yet (it minted, or holds peers with records). */
  get engaged(): boolean {
    return this.own !== undefined || this.minting !== undefined
  }

  /**
   * This node's current record: minted on first need (a stamp is about a
   * second of work at the default difficulty), re-minted in the background
   * every RECORD_REFRESH_MS; the old one is served meanwhile.
   */
  selfRecord(): Promise<SignedPeerRecord> {
    const now = Date.now()
    if (this.own && now - this.own.record.time < RECORD_REFRESH_MS) return Promise.resolve(this.own)
    if (!this.minting) {
      const started = performance.now()
      this.minting = mintPeerRecord(this.ctx.identity, {urls: [this.ctx.url], services: this.services, bits: this.ctx.settings.stampBits, signal: this.abort.signal})
        .then((r) => {
          const fresh = !this.own
          this.own = r
          this.ctx.log(`peer record ${fresh ? 'minted' : 're-minted'} (${this.ctx.settings.stampBits}-bit stamp in ${Math.round(performance.now() - started)} ms)`)
          if (!fresh) this.outbox.set(r.cid.toString(), r.bytes) // peers replace the old one
          return r
        })
        .finally(() => { this.minting = undefined })
      // A caller may not wait for this mint (the old record is still good): its failure is logged here, never unhandled.
      this.minting.catch((err) => { if (!this.abort.signal.aborted) this.ctx.log(`could not mint a peer record: ${(err as Error).message}`) })
    }
    // A record still fresh is good enough while the next one is minted.
    if (this.own && now < expiresAt(this.own.record) - RECORD_REFRESH_MS) return Promise.resolve(this.own)
    return this.minting
  }

  /** GET /v1/seed: our record first, then the freshest records of peers that are not dead (bounded). */
  async seedAnswer(limit = this.ctx.settings.seedAnswerMax): Promise<{records: Uint8Array[]; minting: boolean}> {
    const n = Math.max(1, Math.min(limit, this.ctx.settings.seedAnswerMax))
    // The first answer needs our record minted; an asker is not kept waiting long for it.
    const minted = this.selfRecord()
    minted.catch(() => {})
    let timer: NodeJS.Timeout | undefined
    const own = await Promise.race([minted, new Promise<undefined>((r) => { timer = setTimeout(() => r(undefined), SEED_MINT_WAIT_MS) })]).finally(() => clearTimeout(timer))
    const others = this.ctx.peers.records(Date.now() - RECORD_TTL_MS, own ? n - 1 : n).map((r) => r.record)
    return own ? {records: [own.bytes, ...others], minting: false} : {records: others, minting: true}
  }

  /** Asks each seed for its peers, then registers with every peer not yet known. */
  async seed(urls: string[], signal?: AbortSignal): Promise<SeedResult> {
    const result: SeedResult = {asked: urls.length, answered: 0, learned: 0, registered: 0, errors: []}
    await Promise.all(urls.map(async (url) => {
      let client: PeerClient
      try {
        client = new PeerClient(url, undefined, 1)
      } catch (err) {
        result.errors.push({url, error: (err as Error).message})
        return
      }
      try {
        const records = await retryWhileMinting(() => client.seed({timeoutMs: 15_000, signal}), signal)
        result.answered++
        const r = await this.learn(records, `seed ${client.origin}`)
        result.learned += r.learned
        result.registered += r.registered
      } catch (err) {
        result.errors.push({url, error: (err as Error).message})
        this.ctx.log(`seed request to ${url} failed: ${(err as Error).message}`)
      } finally {
        client.destroy().catch(() => {})
      }
    }))
    return result
  }

  /**
   * Takes a batch of record bytes from a seed answer, a gossip message or a
   * pull: at most seedAnswerMax are looked at (an answer never fills the
   * table alone), each is checked, and every peer not known is registered
   * with. Resolves when those registrations are done.
   */
  async learn(batch: Uint8Array[], from: string): Promise<{learned: number; registered: number}> {
    const cap = this.ctx.settings.seedAnswerMax
    if (batch.length > cap) {
      this.ctx.log(`${from} sent ${batch.length} peer records; only the first ${cap} are considered`)
      batch = batch.slice(0, cap)
    }
    const unknown: SignedPeerRecord[] = []
    for (const bytes of batch) {
      const r = this.check(bytes, from)
      if (!r) continue
      const held = this.ctx.peers.get(r.record.did)
      if (held && held.url === r.record.urls[0]) {
        this.ctx.peers.refreshRecord(r.record.did, r.record.services, r.record.urls, r.bytes, r.record.time)
        this.outbox.set(r.cid.toString(), r.bytes)
      } else unknown.push(r)
    }
    const admitted = (await Promise.all(unknown.map((r) => this.reserve(r, from)))).filter((r): r is SignedPeerRecord => r !== null)
    const done = await Promise.all(admitted.map((r) => this.limited(() => this.register(r, from))))
    return {learned: unknown.length, registered: done.filter(Boolean).length}
  }

  /**
   * Decodes and checks one record; null (with the reason logged) when it is
   * bad, and quietly null when it is a duplicate or this node's own.
   */
  private check(bytes: Uint8Array, from: string, {allowSeen = false} = {}): SignedPeerRecord | null {
    let r: SignedPeerRecord
    try {
      r = this.decode(bytes)
    } catch (err) {
      this.ctx.log(`peer record from ${from} refused: ${(err as Error).message}`)
      return null
    }
    const {record} = r
    if (record.did === this.ctx.identity.did) return null
    const key = r.cid.toString()
    const now = Date.now()
    const seenUntil = this.seen.get(key)
    const held = this.ctx.peers.get(record.did)
    if (held?.recordTime != null && record.time < held.recordTime) {
      this.ctx.log(`peer record from ${from} refused: replayed (${record.did}'s record of ${new Date(record.time).toISOString()} is older than the one held)`)
      return null
    }
    if (seenUntil === undefined || seenUntil <= now) {
      // A stamp pays for one record: the same stamp under different content is a replay.
      if (!this.spent.spend(stampResource(record.did), record.time, record.stamp, expiresAt(record), now)) {
        this.ctx.log(`peer record from ${from} refused: replayed stamp (already spent on another record of ${record.did})`)
        return null
      }
      if (this.seen.size >= MAX_SEEN) this.prune(now)
      this.seen.set(key, expiresAt(record))
    }
    if (held?.recordTime != null && record.time === held.recordTime) return allowSeen ? r : null
    // Seen before but not in the table: its registration failed or was refused; retried after a pause.
    if (!allowSeen && (this.pending.has(record.did) || (this.failed.get(record.did) ?? 0) > now - REGISTER_RETRY_MS)) return null
    return r
  }

  private decode(bytes: Uint8Array): SignedPeerRecord {
    return decodePeerRecord(bytes, {minBits: this.ctx.settings.stampBits})
  }

  /** The /24 and /16 caps, the table size cap: reserves a place for the peer, or says why not. */
  private async reserve(r: SignedPeerRecord, from: string): Promise<SignedPeerRecord | null> {
    if (this.pending.has(r.record.did)) return null // a registration with it is under way
    const problem = await this.admissionProblem(r.record.did, r.record.urls[0])
    if (typeof problem === 'string') {
      this.ctx.log(`peer ${r.record.did} from ${from} not admitted: ${problem}`)
      return null
    }
    this.pending.set(r.record.did, problem.address)
    return r
  }

  /**
   * Why a new peer at `url` may not enter the table, or its address. Counts
   * registrations in flight. Every way into the table asks it (announce,
   * gossip, seed answers, and the plain POST /v1/peers/register).
   */
  async admissionProblem(did: string, url: string): Promise<string | {address: string}> {
    const host = urlHost(url)
    let address = host
    if (!isIP(host)) {
      try {
        address = (await lookup(host, {verbatim: true})).address
      } catch (err) {
        return `cannot resolve ${host}: ${(err as Error).message}`
      }
    }
    const s = this.ctx.settings
    const existing = this.ctx.peers.get(did)
    if (!existing && this.ctx.peers.count() + this.pending.size >= s.maxPeers) return `the peer table is full (${s.maxPeers} peers)`
    if (isLoopback(address) && !s.limitLoopback) return {address}
    const [k24, k16] = subnets(address)
    let n24 = 0
    let n16 = 0
    const others = [...this.ctx.peers.list().filter((p) => p.did !== did && p.address).map((p) => p.address!), ...this.pending.values()]
    for (const a of others) {
      const [o24, o16] = subnets(a)
      if (o24 === k24) n24++
      if (o16 === k16) n16++
    }
    if (n24 >= s.peersPer24) return `${n24} peers from ${k24} already (limit ${s.peersPer24} per /24: eclipse resistance)`
    if (n16 >= s.peersPer16) return `${n16} peers from ${k16} already (limit ${s.peersPer16} per /16: eclipse resistance)`
    return {address}
  }

  /** Registers with a peer learned from a record: it must answer at its URL as its did; then both sides hold each other. */
  private async register(r: SignedPeerRecord, from: string): Promise<boolean> {
    const {did, urls} = r.record
    const client = new PeerClient(urls[0], this.ctx.identity, 1)
    try {
      const own = await this.selfRecord()
      const started = performance.now()
      const hello = await client.hello({timeoutMs: CONTACT_TIMEOUT_MS, signal: this.abort.signal})
      const rtt = performance.now() - started
      if (hello.did !== did) throw new Error(`${urls[0]} answers as ${hello.did}, not as ${did}`)
      const answer = await client.announce(own.bytes, {timeoutMs: CONTACT_TIMEOUT_MS * 2, signal: this.abort.signal})
      // Its answer is its current record; keep the newer of the two.
      let best = r
      try {
        const theirs = this.decode(answer)
        if (theirs.record.did === did && theirs.record.time > r.record.time && theirs.record.urls[0] === urls[0]) best = theirs
      } catch (err) {
        this.ctx.log(`peer ${did} answered the announce with a bad record (${(err as Error).message}); keeping the one from ${from}`)
      }
      this.ctx.peers.putRecord({did, url: urls[0], urls: best.record.urls, services: best.record.services, record: best.bytes, recordTime: best.record.time, address: this.pending.get(did) ?? null, learnedFrom: from, rttMs: rtt})
      this.outbox.set(r.cid.toString(), r.bytes)
      if (best !== r) this.outbox.set(best.cid.toString(), best.bytes)
      this.failed.delete(did)
      this.ctx.log(`peer learned: ${did} at ${urls[0]} (from ${from})`)
      return true
    } catch (err) {
      if (this.failed.size >= MAX_SEEN) this.failed.clear()
      this.failed.set(did, Date.now())
      if (!this.abort.signal.aborted) this.ctx.log(`could not register with ${did} at ${urls[0]} (from ${from}): ${(err as Error).message}`)
      return false
    } finally {
      this.pending.delete(did)
      client.destroy().catch(() => {})
    }
  }

  /**
   * POST /v1/peers/announce: a node registers with its own record. The record
   * must verify, name the request's signer, and its URL must answer as that
   * did (dial-back). Answers with this node's record.
   */
  async acceptAnnounce(bytes: Uint8Array, signer: string): Promise<SignedPeerRecord> {
    let r: SignedPeerRecord
    try {
      r = this.decode(bytes)
    } catch (err) {
      this.ctx.log(`announce by ${signer} refused: ${(err as Error).message}`)
      throw new HttpError(400, 'BAD_PEER_RECORD', (err as Error).message)
    }
    const {did, urls} = r.record
    if (did !== signer) {
      this.ctx.log(`announce by ${signer} refused: the record names someone else's key (${did})`)
      throw new HttpError(400, 'WRONG_KEY', `the record names ${did}, but the request is signed by ${signer}: a node announces only itself`)
    }
    if (did === this.ctx.identity.did) throw new HttpError(400, 'SELF', 'that is this node\'s own record')
    if (!this.check(bytes, `announce by ${signer}`, {allowSeen: true})) {
      throw new HttpError(400, 'REPLAYED', `${did}'s record was refused as a replay (an older record than the one held, or a spent stamp); re-mint and announce again`)
    }
    const held = this.ctx.peers.get(did)
    if (held && held.url === urls[0] && held.recordTime === r.record.time && held.state === 'alive') return this.selfRecord()
    // Both sides may register with each other at once: ours in flight already passed the caps.
    const inFlight = this.pending.has(did)
    if (!inFlight && !(await this.reserve(r, `announce by ${signer}`))) {
      throw new HttpError(403, 'PEER_LIMIT', `this node does not take ${did} at ${urls[0]} into its peer table (subnet or size cap; see its log)`)
    }
    const probe = new PeerClient(urls[0], undefined, 1)
    try {
      const started = performance.now()
      let hello
      try {
        hello = await probe.hello({timeoutMs: CONTACT_TIMEOUT_MS, signal: this.abort.signal})
      } catch (err) {
        this.ctx.log(`announce by ${did} refused: could not dial back ${urls[0]}: ${(err as Error).message}`)
        throw new HttpError(400, 'UNREACHABLE', `could not reach ${urls[0]} to check it: ${(err as Error).message}`)
      }
      if (hello.did !== did) {
        this.ctx.log(`announce by ${did} refused: ${urls[0]} answers as ${hello.did}`)
        throw new HttpError(400, 'WRONG_DID', `${urls[0]} answers as ${hello.did}, not as the signer ${did}`)
      }
      const known = !!held
      this.ctx.peers.putRecord({did, url: urls[0], urls, services: r.record.services, record: r.bytes, recordTime: r.record.time, address: this.pending.get(did) ?? null, learnedFrom: 'announce', rttMs: performance.now() - started})
      this.outbox.set(r.cid.toString(), r.bytes)
      if (!known) this.ctx.log(`peer registered: ${did} at ${urls[0]}`)
    } finally {
      if (!inFlight) this.pending.delete(did)
      probe.destroy().catch(() => {})
    }
    return this.selfRecord()
  }

  /** POST /v1/peers/gossip: records passed on by another node. Answers at once; registrations go on in the background. */
  acceptGossip(batch: Uint8Array[], from: string): number {
    const work = this.learn(batch, from)
    this.ctx.track(work.catch(() => ({learned: 0, registered: 0})))
    return Math.min(batch.length, this.ctx.settings.seedAnswerMax)
  }

  /** One gossip round: pass new records to a few random peers; now and then pull from one. */
  async gossipRound(): Promise<void> {
    const now = Date.now()
    if (this.own && now - this.own.record.time >= RECORD_REFRESH_MS) this.selfRecord().catch(() => {})
    if (this.outbox.size > 0) {
      const records = [...this.outbox.values()]
      this.outbox.clear()
      const targets = pickRandom(this.ctx.peers.live().filter((p) => p.recordTime !== null), this.ctx.settings.gossipFanout)
      const max = this.ctx.settings.seedAnswerMax
      await Promise.all(targets.map(async (p) => {
        for (let i = 0; i < records.length; i += max) {
          try {
            await this.ctx.client(p).gossip(records.slice(i, i + max), {timeoutMs: CONTACT_TIMEOUT_MS, signal: this.abort.signal})
          } catch {
            return // liveness pings judge the peer; gossip just moves on
          }
        }
      }))
    }
    if (now >= this.nextPull) {
      this.pullGap = Math.min(this.pullGap * 2, this.ctx.settings.pullIntervalMs)
      this.nextPull = now + this.pullGap
      await this.pullOnce()
    }
  }

  /** Periodic pull: ask one random live peer that has a record for the peers it knows. */
  async pullOnce(): Promise<void> {
    const [p] = pickRandom(this.ctx.peers.live().filter((x) => x.recordTime !== null), 1)
    if (!p) return
    try {
      await this.learn(await this.ctx.client(p).seed({timeoutMs: CONTACT_TIMEOUT_MS * 2, signal: this.abort.signal}), `pull from ${p.did}`)
    } catch (err) {
      if (!this.abort.signal.aborted) this.ctx.log(`pull from ${p.url} failed: ${(err as Error).message}`)
    }
  }

  /** At start: the seeds given, or with none, a random known peer. */
  async bootstrap(seeds: string[]): Promise<void> {
    if (seeds.length > 0) {
      // Until one seed answers: a node started with its seeds (several machines booting) must not give up.
      for (let wait = 2_000; !this.abort.signal.aborted; wait = Math.min(wait * 2, 5 * 60_000)) {
        const r = await this.seed(seeds, this.abort.signal)
        if (r.answered > 0) {
          this.ctx.log(`seeded from ${r.answered} of ${r.asked} seed(s): ${r.learned} peer(s) learned, ${r.registered} registered`)
          return
        }
        if (this.abort.signal.aborted) return
        this.ctx.log(`no seed answered; trying again in ${wait / 1000} s`)
        await sleep(wait, this.abort.signal)
      }
      return
    }
    const known = this.ctx.peers.list()
    if (known.length === 0) return
    const [p] = pickRandom(known.filter((k) => k.state !== 'dead').length ? known.filter((k) => k.state !== 'dead') : known, 1)
    const r = await this.seed([p.url], this.abort.signal)
    if (r.answered) this.ctx.log(`asked known peer ${p.url} for peers: ${r.learned} learned, ${r.registered} registered`)
  }

  /** Liveness: pings the peers whose turn it is (back-off in PeerTable.markFailure); forgets long-dead peers. */
  async pingDue(): Promise<void> {
    const now = Date.now()
    const forgotten = this.ctx.peers.forgetDead(now - this.ctx.settings.forgetDeadAfterMs)
    if (forgotten) this.ctx.log(`forgot ${forgotten} peer(s) dead for more than ${Math.round(this.ctx.settings.forgetDeadAfterMs / 3_600_000)} h`)
    const due = this.ctx.peers.duePings(now)
    let next = 0
    await Promise.all(Array.from({length: Math.min(PING_CONCURRENCY, due.length)}, async () => {
      for (let p = due[next++]; p; p = due[next++]) {
        if (!(await this.ping(p))) continue
        // A record about to go stale: fetch the peer's current one (its seed answer starts with it).
        if (p.recordTime !== null && Date.now() - p.recordTime > 2 * RECORD_REFRESH_MS) {
          try {
            await this.learn(await this.ctx.client(p).seed({limit: 1, timeoutMs: 3_000, signal: this.abort.signal}), `refresh from ${p.did}`)
          } catch {
            if (!this.abort.signal.aborted) this.ctx.peers.markFailure(p.did)
          }
        }
      }
    }))
  }

  /**
   * One liveness ping (hello): alive with its round-trip time when it answers
   * as `did`, else a failure (PeerTable back-off). Also the node's out-of-turn
   * re-pings (PolarNode.repingDown). Resolves whether the peer answered.
   */
  async ping(p: {did: string; url: string}, timeoutMs = 3_000): Promise<boolean> {
    const started = performance.now()
    try {
      const hello = await this.ctx.client(p).hello({timeoutMs, signal: this.abort.signal})
      if (hello.did !== p.did) throw new Error(`answers as ${hello.did}`)
      this.ctx.peers.markAlive(p.did, performance.now() - started)
      return true
    } catch {
      if (!this.abort.signal.aborted) this.ctx.peers.markFailure(p.did)
      return false
    }
  }

  stop(): void {
    this.abort.abort()
  }

  private prune(now: number): void {
    for (const [k, until] of this.seen) if (until <= now) this.seen.delete(k)
    this.spent.prune(now)
    if (this.seen.size >= MAX_SEEN) this.seen.clear() // full of live entries: forget (costs only repeated checks)
  }

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

/** The /24 and /16 an IPv4 address is in (IPv6: /48 and /32), as text keys. */
export function subnets(address: string): [string, string] {
  const v4 = unmapV4(address)
  if (isIP(v4) === 4) {
    const o = v4.split('.')
    return [`${o[0]}.${o[1]}.${o[2]}.0/24`, `${o[0]}.${o[1]}.0.0/16`]
  }
  return [v6Prefix(address, 3), v6Prefix(address, 2)]
}

/** Waits `ms`, or less when `signal` aborts (resolving either way; the abort listener is removed when the wait ends). */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return delay(ms, undefined, {signal}).catch(() => {})
}

/** Retries a seed request while the seed is still minting its first record (client.seed throws MINTING), a second apart, for up to SEED_RETRY_MS. */
export async function retryWhileMinting<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  const deadline = Date.now() + SEED_RETRY_MS
  for (;;) {
    try {
      return await fn()
    } catch (err) {
      if ((err as {code?: string}).code !== 'MINTING' || Date.now() > deadline || signal?.aborted) throw err
      await sleep(1_000, signal)
    }
  }
}

function pickRandom<T>(items: T[], n: number): T[] {
  const a = items.slice()
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[a[i], a[j]] = [a[j], a[i]]
  }
  return a.slice(0, n)
}

