import {setTimeout as delay} from 'node:timers/promises'
import type {Identity} from '../identity/index.js'
import {HttpError} from '../net/http.js'
import {PeerClient} from '../net/peer/index.js'
import type {SignedPeerRecord} from '../records/peer-record.js'
import {registerStampResource, SpentStamps, stampProblem} from '../records/stamp.js'
import type {Admission} from './admission.js'
import type {Log} from './components.js'
import type {RecordCheck} from './peer-records.js'
import type {PeerTable} from './peer-table.js'

export const CONTACT_TIMEOUT_MS = 5_000
/** A registration stamp's time may be this far from the node's clock (and is remembered as spent that long). */
export const REGISTER_STAMP_WINDOW_MS = 10 * 60_000

/** What registration uses of the node and of the other discovery parts. */
export interface RegistrationComponents {
  identity: Identity
  /** Stamp difficulty of registrations (setting stampBits). */
  stampBits: number
  peers: Pick<PeerTable, 'get' | 'upsert' | 'putRecord'>
  log: Log
  admission: Admission
  records: RecordCheck
  /** This node's current record (Discovery.selfRecord). */
  selfRecord(): Promise<SignedPeerRecord>
  /** Records to pass on at the next gossip round. */
  outbox: Map<string, Uint8Array>
  /** Aborted when the node stops. */
  signal: AbortSignal
}

/**
 * Registration (draft 000 "register"), both ways. Inbound, by URL (POST
 * /v1/peers/register, paid with a stamp) or by record (POST
 * /v1/peers/announce): both go through one admitted dial-back
 * (`admitAndDialBack`) before the peer enters the table. Outbound, with a
 * peer learned from a record: hello at its URL as its did, then our announce.
 */
export class Registration {
  private readonly registerStamps = new SpentStamps()

  constructor(private readonly c: RegistrationComponents) {}

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
      const hello = await probe.hello({timeoutMs: CONTACT_TIMEOUT_MS, signal: this.c.signal})
      if (hello.did !== did) throw new Error(`it answers as ${hello.did}`)
      return {rttMs: performance.now() - started, services: hello.services}
    } catch (err) {
      this.c.log(`${what} refused: dial-back to ${url} (${address}) failed: ${(err as Error).message}`)
      await delay(started + CONTACT_TIMEOUT_MS - performance.now(), undefined, {signal: this.c.signal}).catch(() => {})
      throw new HttpError(400, 'UNREACHABLE', `could not confirm that ${url} is a polar node answering as ${did}`)
    } finally {
      probe.destroy().catch(() => {})
    }
  }

  /**
   * The one way a peer that contacted us enters the table: admission (unless
   * our own registration with it is in flight and already passed it: both
   * sides may register at once), then the dial-back to the admitted address.
   * Its place is held (pending) meanwhile.
   */
  private async admitAndDialBack(did: string, url: string, what: string): Promise<{address: string; rttMs: number; services: unknown}> {
    const {pending} = this.c.admission
    const inFlight = pending.get(did)
    let address = inFlight
    if (address === undefined) {
      const admitted = await this.c.admission.admissionProblem(did, url)
      if ('problem' in admitted) {
        this.c.log(`${what} refused: ${admitted.problem}`)
        throw new HttpError(admitted.status, admitted.code, `this node does not take ${did} at ${url} into its peer table: ${admitted.problem}`)
      }
      address = admitted.address
      pending.set(did, address)
    }
    try {
      return {address, ...await this.dialBack(did, url, address, what)}
    } finally {
      if (inFlight === undefined) pending.delete(did)
    }
  }

  /**
   * POST /v1/peers/register: a node introduces itself by URL (`peers add` on
   * its side). It pays a stamp (registerStampResource: this signer, this
   * origin; REGISTER_STAMP_WINDOW_MS; spent once here), spends one of
   * its address's dial-backs, passes admission, and answers at its URL
   * as the signer; then it is in the table, with the address it was dialled at.
   */
  async acceptRegister(did: string, url: string, stamp: unknown, requester: string | undefined): Promise<void> {
    const origin = new URL(url).origin
    const resource = registerStampResource(did, origin)
    const time = (stamp as {time?: unknown} | null)?.time
    const bits = this.c.stampBits
    const problem = typeof time !== 'number' || !Number.isSafeInteger(time) || Math.abs(Date.now() - time) > REGISTER_STAMP_WINDOW_MS
      ? 'stamp missing, or its time is more than 10 minutes from this node\'s clock'
      : stampProblem(stamp, resource, time, bits)
    if (problem) throw Object.assign(new HttpError(403, 'STAMP_REQUIRED', `a registration costs a proof-of-work stamp of ${bits} bits over ${JSON.stringify(resource)}: ${problem}`), {stampBits: bits, resource})
    this.c.admission.takeDial(requester)
    if (!this.registerStamps.spend(resource, time as number, stamp as {bits: number; nonce: string}, (time as number) + REGISTER_STAMP_WINDOW_MS)) {
      throw Object.assign(new HttpError(403, 'STAMP_REQUIRED', 'that stamp was already spent; mint a new one'), {stampBits: bits, resource})
    }
    if (did === this.c.identity.did) throw new HttpError(400, 'SELF', 'that is this node\'s own key')
    const {address, services} = await this.admitAndDialBack(did, url, `register by ${did}`)
    this.c.peers.upsert(did, origin, 'register', Date.now(), services, address)
    this.c.log(`peer registered: ${did} at ${url}`)
  }

  /**
   * POST /v1/peers/announce: a node registers with its own record. The record
   * must verify, name the request's signer, and its URL must answer as that
   * did (dial-back, from `requester`'s budget). Answers with this node's record.
   */
  async acceptAnnounce(bytes: Uint8Array, signer: string, requester?: string): Promise<SignedPeerRecord> {
    let r: SignedPeerRecord
    try {
      r = this.c.records.decode(bytes)
    } catch (err) {
      this.c.log(`announce by ${signer} refused: ${(err as Error).message}`)
      throw new HttpError(400, 'BAD_PEER_RECORD', (err as Error).message)
    }
    const {did, urls} = r.record
    if (did !== signer) {
      this.c.log(`announce by ${signer} refused: the record names someone else's key (${did})`)
      throw new HttpError(400, 'WRONG_KEY', `the record names ${did}, but the request is signed by ${signer}: a node announces only itself`)
    }
    if (did === this.c.identity.did) throw new HttpError(400, 'SELF', 'that is this node\'s own record')
    if (!this.c.records.check(bytes, `announce by ${signer}`, {allowSeen: true})) {
      throw new HttpError(400, 'REPLAYED', `${did}'s record was refused as a replay (an older record than the one held, or a spent stamp); re-mint and announce again`)
    }
    const held = this.c.peers.get(did)
    if (held && held.url === urls[0] && held.recordTime === r.record.time && held.state === 'alive') return this.c.selfRecord()
    this.c.admission.takeDial(requester)
    const {address, rttMs} = await this.admitAndDialBack(did, urls[0], `announce by ${did}`)
    this.c.peers.putRecord({did, url: urls[0], urls, services: r.record.services, record: r.bytes, recordTime: r.record.time, address, learnedFrom: 'announce', rttMs})
    this.c.outbox.set(r.cid.toString(), r.bytes)
    if (!held) this.c.log(`peer registered: ${did} at ${urls[0]}`)
    return this.c.selfRecord()
  }

  /**
   * Registers with a peer learned from a record, whose place admission
   * reserved (Admission.reserve): it must answer at its URL as its did; then
   * it gets our announce and both sides hold each other. Releases the place.
   */
  async registerWith(r: SignedPeerRecord, from: string): Promise<boolean> {
    const {did, urls} = r.record
    const address = this.c.admission.pending.get(did)
    // Pinned to the address admission checked (reserve): no second resolution (net/dial.ts).
    const client = new PeerClient(urls[0], {identity: this.c.identity, connections: 1, address})
    try {
      const own = await this.c.selfRecord()
      const started = performance.now()
      const hello = await client.hello({timeoutMs: CONTACT_TIMEOUT_MS, signal: this.c.signal})
      const rtt = performance.now() - started
      if (hello.did !== did) throw new Error(`${urls[0]} answers as ${hello.did}, not as ${did}`)
      const answer = await client.discovery.announce(own.bytes, {timeoutMs: CONTACT_TIMEOUT_MS * 2, signal: this.c.signal})
      // Its answer is its current record; keep the newer of the two.
      let best = r
      try {
        const theirs = this.c.records.decode(answer)
        if (theirs.record.did === did && theirs.record.time > r.record.time && theirs.record.urls[0] === urls[0]) best = theirs
      } catch (err) {
        this.c.log(`peer ${did} answered the announce with a bad record (${(err as Error).message}); keeping the one from ${from}`)
      }
      this.c.peers.putRecord({did, url: urls[0], urls: best.record.urls, services: best.record.services, record: best.bytes, recordTime: best.record.time, address: address ?? null, learnedFrom: from, rttMs: rtt})
      this.c.outbox.set(r.cid.toString(), r.bytes)
      if (best !== r) this.c.outbox.set(best.cid.toString(), best.bytes)
      this.c.records.noteRegistered(did)
      this.c.log(`peer learned: ${did} at ${urls[0]} (from ${from})`)
      return true
    } catch (err) {
      this.c.records.noteFailed(did)
      if (!this.c.signal.aborted) this.c.log(`could not register with ${did} at ${urls[0]} (from ${from}): ${(err as Error).message}`)
      return false
    } finally {
      this.c.admission.pending.delete(did)
      client.destroy().catch(() => {})
    }
  }
}
