import {addressRange, dialAllowed, isLoopback, unmapV4, urlHost, v6Prefix} from '../net/address.js'
import {isIP} from 'node:net'
import {resolveOnce} from '../net/dial.js'
import {setTimeout as delay} from 'node:timers/promises'
import {PeerClient} from '../net/peer/index.js'
import {HttpError} from '../net/http.js'
import {decodePeerRecord, expiresAt, mintPeerRecord, RECORD_REFRESH_MS, RECORD_TTL_MS, stampResource, type SignedPeerRecord} from '../records/peer-record.js'
import {registerStampResource, SpentStamps, stampProblem} from '../records/stamp.js'
import type {NodeContext} from './context.js'
import {addressKey, TokenBuckets} from '../net/limits.js'

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
/**
 * Dial-backs a stranger's requests may cost this node, per source address
 * (the requester's for register and announce, the sender's for gossip and
 * pull answers): DIAL_BURST at once, then DIAL_PER_MINUTE (issue 20). Loopback
 * sources are exempt unless limitLoopback (many nodes on one machine).
 */
export const DIAL_BURST = 6
export const DIAL_PER_MINUTE = 6
/** A registration stamp's time may be this far from the node's clock (and is remembered as spent that long). */
export const REGISTER_STAMP_WINDOW_MS = 10 * 60_000

/** 429 with Retry-After: the source spent its dial-backs (routes answer it with the header). */
export class DialBudgetError extends HttpError {
  constructor(readonly retryAfterS: number) {
    super(429, 'RATE_LIMITED', `too many registrations from your address (each makes this node dial back); retry in ${retryAfterS} s`)
  }
}

/** Why a new peer may not enter the table, with the status a route answers. */
export interface Refusal {
  status: number
  code: 'PEER_LIMIT' | 'NOT_ALLOWED' | 'UNREACHABLE' | 'BANNED'
  problem: string
}

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
  private readonly dialBudget = new TokenBuckets(DIAL_PER_MINUTE / 60, DIAL_BURST, 4096)
  private readonly registerStamps = new SpentStamps()
  private privateDials: Promise<boolean> | undefined

  constructor(private readonly ctx: NodeContext, private readonly services: string) {}

  /**
   * Whether strangers may make this node dial private and loopback addresses:
   * the `dialPrivate` setting, or by default whether the host this node
   * announces is itself loopback, private, CGNAT or unique-local (resolved
   * once; a name that does not resolve counts as public, the stricter choice).
   */
  dialsPrivate(): Promise<boolean> {
    this.privateDials ??= (async () => {
      const set = this.ctx.settings.dialPrivate
      let allowed: boolean
      if (typeof set === 'boolean') allowed = set
      else {
        let address: string | undefined
        try {
          address = (await resolveOnce(this.ctx.url)).address
        } catch {}
        allowed = address !== undefined && ['loopback', 'private', 'carrierGradeNat', 'uniqueLocal'].includes(addressRange(address))
      }
      this.ctx.log(`dial-backs for strangers: ${allowed ? 'public, private and loopback addresses' : 'public addresses only'} (${typeof set === 'boolean' ? 'setting dialPrivate' : `this node announces ${this.ctx.url}`})`)
      return allowed
    })()
    return this.privateDials
  }

  /** Takes one dial-back from `source`'s budget; DialBudgetError when it is spent. */
  takeDial(source: string | undefined): void {
    if (source === undefined || (isLoopback(source) && !this.ctx.settings.limitLoopback)) return
    const wait = this.dialBudget.take(addressKey(source))
    if (wait > 0) throw new DialBudgetError(Math.max(1, Math.ceil(wait / 1000)))
  }

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
        client = new PeerClient(url, {connections: 1})
      } catch (err) {
        result.errors.push({url, error: (err as Error).message})
        return
      }
      try {
        const records = await retryWhileMinting(() => client.discovery.seed({timeoutMs: 15_000, signal}), signal)
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
  async learn(batch: Uint8Array[], from: string, source?: string): Promise<{learned: number; registered: number}> {
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
    // Every new peer costs a dial: the sender's budget decides how many of its records are dialled now (the rest may come again).
    let overBudget = 0
    const affordable = unknown.filter((r) => {
      if (this.pending.has(r.record.did)) return false
      try {
        this.takeDial(source)
        return true
      } catch {
        overBudget++
        return false
      }
    })
    if (overBudget) this.ctx.log(`${from}: ${overBudget} new peer record(s) not dialled (over ${DIAL_PER_MINUTE} dial-backs a minute from ${source})`)
    const admitted = (await Promise.all(affordable.map((r) => this.reserve(r, from)))).filter((r): r is SignedPeerRecord => r !== null)
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

  /** The ban list, dial policy, table size and /24 and /16 caps: reserves a place for the peer, or says why not. */
  private async reserve(r: SignedPeerRecord, from: string): Promise<SignedPeerRecord | null> {
    if (this.pending.has(r.record.did)) return null // a registration with it is under way
    const problem = await this.admissionProblem(r.record.did, r.record.urls[0])
    if ('problem' in problem) {
      this.ctx.log(`peer ${r.record.did} from ${from} not admitted: ${problem.problem}`)
      return null
    }
    this.pending.set(r.record.did, problem.address)
    return r
  }

  /**
   * Why a new peer at `url` may not enter the table, or the one address its
   * host resolved to (the one a dial-back then dials: net/dial.ts). Checks,
   * in order: the ban list (by did, and by address), the dial policy
   * (dialAllowed: public addresses, private ones only when dialsPrivate()),
   * the table size and the subnet caps, counting registrations in flight.
   * Every way into the table asks it (announce, gossip, seed answers, pulls,
   * and POST /v1/peers/register).
   */
  async admissionProblem(did: string, url: string): Promise<Refusal | {address: string}> {
    const s = this.ctx.settings
    const now = Date.now()
    const byDid = this.ctx.peers.bannedUntil(did, null, now)
    if (byDid !== null) return {status: 403, code: 'BANNED', problem: `${did} was dropped for sending bad blocks; it may register again after ${new Date(byDid).toISOString()}`}
    let address: string
    try {
      address = (await resolveOnce(url)).address
    } catch (err) {
      return {status: 400, code: 'UNREACHABLE', problem: `cannot resolve ${urlHost(url)}: ${(err as Error).message}`}
    }
    if (!dialAllowed(address, await this.dialsPrivate())) {
      return {status: 403, code: 'NOT_ALLOWED', problem: `${url} is at ${address} (${addressRange(address)}): this node dials only public addresses for peers it does not know (setting dialPrivate)`}
    }
    const exempt = isLoopback(address) && !s.limitLoopback
    const byAddress = exempt ? null : this.ctx.peers.bannedUntil(did, address, now)
    if (byAddress !== null) return {status: 403, code: 'BANNED', problem: `a peer at ${address} was dropped for sending bad blocks; no peer from there is taken before ${new Date(byAddress).toISOString()}`}
    const existing = this.ctx.peers.get(did)
    if (!existing && this.ctx.peers.count() + this.pending.size >= s.maxPeers) return {status: 403, code: 'PEER_LIMIT', problem: `the peer table is full (${s.maxPeers} peers)`}
    if (exempt) return {address}
    const [k24, k16] = subnets(address)
    let n24 = 0
    let n16 = 0
    const others = [...this.ctx.peers.list().filter((p) => p.did !== did && p.address).map((p) => p.address!), ...this.pending.values()]
    for (const a of others) {
      const [o24, o16] = subnets(a)
      if (o24 === k24) n24++
      if (o16 === k16) n16++
    }
    if (n24 >= s.peersPer24) return {status: 403, code: 'PEER_LIMIT', problem: `${n24} peers from ${k24} already (limit ${s.peersPer24} per /24: eclipse resistance)`}
    if (n16 >= s.peersPer16) return {status: 403, code: 'PEER_LIMIT', problem: `${n16} peers from ${k16} already (limit ${s.peersPer16} per /16: eclipse resistance)`}
    return {address}
  }

  /**
   * The dial-back of a registration or an announce: `url`'s /v1/hello, on a
   * new connection to `address` only (the one admissionProblem resolved and
   * checked), must answer as `did`. Whatever went wrong (refused, silent,
   * not HTTP, not polar, another did) the caller gets the same answer, at the
   * same time: CONTACT_TIMEOUT_MS after the dial started (issue 20: the error
   * text and timing told closed, open and HTTP ports apart). The real reason
   * goes to the log.
   */
  async dialBack(did: string, url: string, address: string, what: string): Promise<{rttMs: number; services: unknown}> {
    const started = performance.now()
    const probe = new PeerClient(url, {connections: 1, address})
    try {
      const hello = await probe.hello({timeoutMs: CONTACT_TIMEOUT_MS, signal: this.abort.signal})
      if (hello.did !== did) throw new Error(`it answers as ${hello.did}`)
      return {rttMs: performance.now() - started, services: hello.services}
    } catch (err) {
      this.ctx.log(`${what} refused: dial-back to ${url} (${address}) failed: ${(err as Error).message}`)
      await sleep(started + CONTACT_TIMEOUT_MS - performance.now(), this.abort.signal)
      throw new HttpError(400, 'UNREACHABLE', `could not confirm that ${url} is a polar node answering as ${did}`)
    } finally {
      probe.destroy().catch(() => {})
    }
  }

  /**
   * POST /v1/peers/register: a node introduces itself by URL (`peers add` on
   * its side). It pays a stamp (registerStampResource: this signer, this
   * origin; REGISTER_STAMP_WINDOW_MS; spent once here), spends one of
   * its address's dial-backs, passes admissionProblem, and answers at its URL
   * as the signer; then it is in the table, with the address it was dialled at.
   */
  async acceptRegister(did: string, url: string, stamp: unknown, requester: string | undefined): Promise<void> {
    const origin = new URL(url).origin
    const resource = registerStampResource(did, origin)
    const time = (stamp as {time?: unknown} | null)?.time
    const bits = this.ctx.settings.stampBits
    const problem = typeof time !== 'number' || !Number.isSafeInteger(time) || Math.abs(Date.now() - time) > REGISTER_STAMP_WINDOW_MS
      ? 'stamp missing, or its time is more than 10 minutes from this node\'s clock'
      : stampProblem(stamp, resource, time, bits)
    if (problem) throw Object.assign(new HttpError(403, 'STAMP_REQUIRED', `a registration costs a proof-of-work stamp of ${bits} bits over ${JSON.stringify(resource)}: ${problem}`), {stampBits: bits, resource})
    this.takeDial(requester)
    if (!this.registerStamps.spend(resource, time as number, stamp as {bits: number; nonce: string}, (time as number) + REGISTER_STAMP_WINDOW_MS)) {
      throw Object.assign(new HttpError(403, 'STAMP_REQUIRED', 'that stamp was already spent; mint a new one'), {stampBits: bits, resource})
    }
    if (did === this.ctx.identity.did) throw new HttpError(400, 'SELF', 'that is this node\'s own key')
    const admitted = await this.admissionProblem(did, url)
    if ('problem' in admitted) {
      this.ctx.log(`register by ${did} refused: ${admitted.problem}`)
      throw new HttpError(admitted.status, admitted.code, `this node does not take ${did} at ${url} into its peer table: ${admitted.problem}`)
    }
    const hello = await this.dialBack(did, url, admitted.address, `register by ${did}`)
    this.ctx.peers.upsert(did, origin, 'register', Date.now(), hello.services, admitted.address)
    this.ctx.log(`peer registered: ${did} at ${url}`)
  }

  /** Registers with a peer learned from a record: it must answer at its URL as its did; then both sides hold each other. */
  private async register(r: SignedPeerRecord, from: string): Promise<boolean> {
    const {did, urls} = r.record
    // Pinned to the address admission checked (reserve): no second resolution (net/dial.ts).
    const client = new PeerClient(urls[0], {identity: this.ctx.identity, connections: 1, address: this.pending.get(did)})
    try {
      const own = await this.selfRecord()
      const started = performance.now()
      const hello = await client.hello({timeoutMs: CONTACT_TIMEOUT_MS, signal: this.abort.signal})
      const rtt = performance.now() - started
      if (hello.did !== did) throw new Error(`${urls[0]} answers as ${hello.did}, not as ${did}`)
      const answer = await client.discovery.announce(own.bytes, {timeoutMs: CONTACT_TIMEOUT_MS * 2, signal: this.abort.signal})
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
   * did (dial-back, from `requester`'s budget). Answers with this node's record.
   */
  async acceptAnnounce(bytes: Uint8Array, signer: string, requester?: string): Promise<SignedPeerRecord> {
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
    this.takeDial(requester)
    // Both sides may register with each other at once: ours in flight already passed the caps (and resolved the address).
    const inFlight = this.pending.get(did)
    let address = inFlight
    if (address === undefined) {
      const admitted = await this.admissionProblem(did, urls[0])
      if ('problem' in admitted) {
        this.ctx.log(`announce by ${did} refused: ${admitted.problem}`)
        throw new HttpError(admitted.status, admitted.code, `this node does not take ${did} at ${urls[0]} into its peer table: ${admitted.problem}`)
      }
      address = admitted.address
      this.pending.set(did, address)
    }
    try {
      const {rttMs} = await this.dialBack(did, urls[0], address, `announce by ${did}`)
      this.ctx.peers.putRecord({did, url: urls[0], urls, services: r.record.services, record: r.bytes, recordTime: r.record.time, address, learnedFrom: 'announce', rttMs})
      this.outbox.set(r.cid.toString(), r.bytes)
      if (!held) this.ctx.log(`peer registered: ${did} at ${urls[0]}`)
    } finally {
      if (inFlight === undefined) this.pending.delete(did)
    }
    return this.selfRecord()
  }

  /** POST /v1/peers/gossip: records passed on by another node. Answers at once; registrations go on in the background. */
  acceptGossip(batch: Uint8Array[], from: string, source?: string): number {
    const work = this.learn(batch, from, source)
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
            await this.ctx.client(p).discovery.gossip(records.slice(i, i + max), {timeoutMs: CONTACT_TIMEOUT_MS, signal: this.abort.signal})
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
      await this.learn(await this.ctx.client(p).discovery.seed({timeoutMs: CONTACT_TIMEOUT_MS * 2, signal: this.abort.signal}), `pull from ${p.did}`, p.address ?? undefined)
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
            await this.learn(await this.ctx.client(p).discovery.seed({limit: 1, timeoutMs: 3_000, signal: this.abort.signal}), `refresh from ${p.did}`, p.address ?? undefined)
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

