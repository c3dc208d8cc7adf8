import {setTimeout as delay} from 'node:timers/promises'
import type {Identity} from '../identity/index.js'
import {PeerClient} from '../net/peer/index.js'
import {expiresAt, mintPeerRecord, RECORD_REFRESH_MS, RECORD_TTL_MS, type SignedPeerRecord} from '../records/peer-record.js'
import {Admission} from './admission.js'
import type {ClientFor, Log, Track} from './components.js'
import type {NodeSettings} from './node-settings.js'
import {Gossip, pickRandom} from './gossip.js'
import {Liveness} from './liveness.js'
import {RecordCheck} from './peer-records.js'
import type {PeerTable} from './peer-table.js'
import {Registration} from './registration.js'

export {DIAL_BURST, DIAL_PER_MINUTE, DialBudgetError, subnets, type Refusal} from './admission.js'
export {REGISTER_STAMP_WINDOW_MS} from './registration.js'

/** How long a seed answer waits for this node's first record; then it answers without it (`minting: true`) and the asker retries. */
const SEED_MINT_WAIT_MS = 5_000
/** How long a seed request keeps retrying a seed that is still minting. */
const SEED_RETRY_MS = 60_000

export interface SeedResult {
  asked: number
  answered: number
  /** Verified records of peers this node did not know. */
  learned: number
  /** Of those, peers that answered at their URL and are now in the table. */
  registered: number
  errors: Array<{url: string; error: string}>
}

/** What discovery uses of the node (the parts below take narrower slices of it). */
export interface DiscoveryComponents {
  identity: Identity
  url: string
  settings: NodeSettings
  peers: PeerTable
  client: ClientFor
  log: Log
  track: Track
}

/**
 * Discovery (draft 000 "seed request" / "register"; draft 002 PEER-LIST,
 * PEER-INFO, BROADCAST-PEER): this node's signed peer record, seed requests
 * and answers, and the parts it is made of: admission (who may enter the
 * table), registration (the one dial-back), gossip (records passed on and
 * pulled, peer-records.ts checks each) and liveness (pings, re-pings, the
 * greeting at start). Every record is checked by decodePeerRecord and
 * against replays before use, and a new peer enters the table only after it
 * answered at its URL as its did and within the /24 and /16 caps.
 */
export class Discovery {
  readonly admission: Admission
  readonly records: RecordCheck
  readonly registration: Registration
  readonly gossip: Gossip
  readonly liveness: Liveness
  private own: SignedPeerRecord | undefined
  private minting: Promise<SignedPeerRecord> | undefined
  /** Records to pass on at the next gossip round. */
  private readonly outbox = new Map<string, Uint8Array>()
  private readonly abort = new AbortController()

  constructor(private readonly c: DiscoveryComponents, private readonly services: string) {
    const {settings: s, peers, log, client, identity} = c
    const signal = this.abort.signal
    const selfRecord = () => this.selfRecord()
    this.admission = new Admission({settings: s, peers, url: c.url, log})
    this.records = new RecordCheck({did: identity.did, stampBits: s.stampBits, peers, log, registering: (did) => this.admission.pending.has(did)})
    this.registration = new Registration({identity, stampBits: s.stampBits, peers, log, admission: this.admission, records: this.records, selfRecord, outbox: this.outbox, signal})
    this.gossip = new Gossip({settings: s, peers, client, log, track: c.track, admission: this.admission, records: this.records, registration: this.registration, outbox: this.outbox, signal})
    this.liveness = new Liveness({
      settings: s, peers, client, log, signal,
      refreshRecord: async (p) => {
        await this.gossip.learn(await client(p).discovery.seed({limit: 1, timeoutMs: 3_000, signal}), `refresh from ${p.did}`, p.address ?? undefined)
      },
      announceTo: async (p, timeoutMs) => {
        await client(p).discovery.announce((await selfRecord()).bytes, {timeoutMs, signal})
      },
    })
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
      this.minting = mintPeerRecord(this.c.identity, {urls: [this.c.url], services: this.services, bits: this.c.settings.stampBits, signal: this.abort.signal})
        .then((r) => {
          const fresh = !this.own
          this.own = r
          this.c.log(`peer record ${fresh ? 'minted' : 're-minted'} (${this.c.settings.stampBits}-bit stamp in ${Math.round(performance.now() - started)} ms)`)
          if (!fresh) this.outbox.set(r.cid.toString(), r.bytes) // peers replace the old one
          return r
        })
        .finally(() => { this.minting = undefined })
      // A caller may not wait for this mint (the old record is still good): its failure is logged here, never unhandled.
      this.minting.catch((err) => { if (!this.abort.signal.aborted) this.c.log(`could not mint a peer record: ${(err as Error).message}`) })
    }
    // A record still fresh is good enough while the next one is minted.
    if (this.own && now < expiresAt(this.own.record) - RECORD_REFRESH_MS) return Promise.resolve(this.own)
    return this.minting
  }

  /** GET /v1/seed: our record first, then the freshest records of peers that are not dead (bounded). */
  async seedAnswer(limit = this.c.settings.seedAnswerMax): Promise<{records: Uint8Array[]; minting: boolean}> {
    const n = Math.max(1, Math.min(limit, this.c.settings.seedAnswerMax))
    // The first answer needs our record minted; an asker is not kept waiting long for it.
    const minted = this.selfRecord()
    minted.catch(() => {})
    let timer: NodeJS.Timeout | undefined
    const own = await Promise.race([minted, new Promise<undefined>((r) => { timer = setTimeout(() => r(undefined), SEED_MINT_WAIT_MS) })]).finally(() => clearTimeout(timer))
    const others = this.c.peers.records(Date.now() - RECORD_TTL_MS, own ? n - 1 : n).map((r) => r.record)
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
        const r = await this.gossip.learn(records, `seed ${client.origin}`)
        result.learned += r.learned
        result.registered += r.registered
      } catch (err) {
        result.errors.push({url, error: (err as Error).message})
        this.c.log(`seed request to ${url} failed: ${(err as Error).message}`)
      } finally {
        client.destroy().catch(() => {})
      }
    }))
    return result
  }

  /** POST /v1/peers/register (registration.ts). */
  acceptRegister(did: string, url: string, stamp: unknown, requester: string | undefined): Promise<void> {
    return this.registration.acceptRegister(did, url, stamp, requester)
  }

  /** POST /v1/peers/announce (registration.ts). */
  acceptAnnounce(bytes: Uint8Array, signer: string, requester?: string): Promise<SignedPeerRecord> {
    return this.registration.acceptAnnounce(bytes, signer, requester)
  }

  /** POST /v1/peers/gossip (gossip.ts). */
  acceptGossip(batch: Uint8Array[], from: string, source?: string): number {
    return this.gossip.accept(batch, from, source)
  }

  /** One gossip round (gossip.ts), after re-minting our record when it is due. */
  async gossipRound(): Promise<void> {
    if (this.own && Date.now() - this.own.record.time >= RECORD_REFRESH_MS) this.selfRecord().catch(() => {})
    await this.gossip.round()
  }

  /**
   * At start: greets the peers known from before (liveness.ts: they mark
   * this node alive at once), and asks the seeds given, or with none, a
   * random known peer, for peers.
   */
  async bootstrap(seeds: string[]): Promise<void> {
    const greeting = this.c.peers.count() > 0 ? this.liveness.greet().catch(() => 0) : Promise.resolve(0)
    try {
      await this.askForPeers(seeds)
    } finally {
      await greeting
    }
  }

  private async askForPeers(seeds: string[]): Promise<void> {
    const signal = this.abort.signal
    if (seeds.length > 0) {
      // Until one seed answers: a node started with its seeds (several machines booting) must not give up.
      for (let wait = 2_000; !signal.aborted; wait = Math.min(wait * 2, 5 * 60_000)) {
        const r = await this.seed(seeds, signal)
        if (r.answered > 0) {
          this.c.log(`seeded from ${r.answered} of ${r.asked} seed(s): ${r.learned} peer(s) learned, ${r.registered} registered`)
          return
        }
        if (signal.aborted) return
        this.c.log(`no seed answered; trying again in ${wait / 1000} s`)
        await sleep(wait, signal)
      }
      return
    }
    const known = this.c.peers.list()
    if (known.length === 0) return
    const [p] = pickRandom(known.filter((k) => k.state !== 'dead').length ? known.filter((k) => k.state !== 'dead') : known, 1)
    const r = await this.seed([p.url], signal)
    if (r.answered) this.c.log(`asked known peer ${p.url} for peers: ${r.learned} learned, ${r.registered} registered`)
  }

  stop(): void {
    this.abort.abort()
  }
}

/** Waits `ms`, or less when `signal` aborts (resolving either way). */
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

