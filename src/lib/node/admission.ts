import {isIP} from 'node:net'
import {addressRange, dialAllowed, isLoopback, unmapV4, urlHost, v6Prefix} from '../net/address.js'
import {resolveOnce} from '../net/dial.js'
import {HttpError} from '../net/http.js'
import {addressKey, TokenBuckets} from '../net/limits.js'
import type {Log} from './components.js'
import type {NodeSettings} from './node-settings.js'
import type {PeerTable} from './peer-table.js'

/**
 * Dial-backs a stranger's requests may cost this node, per source address
 * (the requester's for register and announce, the sender's for gossip and
 * pull answers): DIAL_BURST at once, then DIAL_PER_MINUTE (issue 20). Loopback
 * sources are exempt unless limitLoopback (many nodes on one machine).
 */
export const DIAL_BURST = 6
export const DIAL_PER_MINUTE = 6

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

/** What admission uses of the node (a unit test passes a fake table and resolver). */
export interface AdmissionComponents {
  settings: Pick<NodeSettings, 'dialPrivate' | 'limitLoopback' | 'maxPeers' | 'peersPer24' | 'peersPer16'>
  peers: Pick<PeerTable, 'bannedUntil' | 'get' | 'count' | 'list'>
  /** The URL this node announces (its host decides the default dial policy). */
  url: string
  log: Log
  /** Resolves a URL's host once (net/dial.ts); a test passes its own. */
  resolve?: (url: string) => Promise<{address: string}>
}

/**
 * Who may enter the peer table (issue 20, draft 000 "register"): the ban
 * list, the dial policy, the table size and the subnet caps (eclipse
 * resistance), counting the registrations in flight (`pending`), and the
 * dial-back budget of each source address.
 */
export class Admission {
  /** Peers being registered: did → the address admission resolved (counted against the caps). */
  readonly pending = new Map<string, string>()
  private readonly dialBudget = new TokenBuckets(DIAL_PER_MINUTE / 60, DIAL_BURST, 4096)
  private privateDials: Promise<boolean> | undefined
  private readonly resolve: (url: string) => Promise<{address: string}>

  constructor(private readonly c: AdmissionComponents) {
    this.resolve = c.resolve ?? resolveOnce
  }

  /**
   * Whether strangers may make this node dial private and loopback addresses:
   * the `dialPrivate` setting, or by default whether the host this node
   * announces is itself loopback, private, CGNAT or unique-local (resolved
   * once; a name that does not resolve counts as public, the stricter choice).
   */
  dialsPrivate(): Promise<boolean> {
    this.privateDials ??= (async () => {
      const set = this.c.settings.dialPrivate
      let allowed: boolean
      if (typeof set === 'boolean') allowed = set
      else {
        let address: string | undefined
        try {
          address = (await this.resolve(this.c.url)).address
        } catch {}
        allowed = address !== undefined && ['loopback', 'private', 'carrierGradeNat', 'uniqueLocal'].includes(addressRange(address))
      }
      this.c.log(`dial-backs for strangers: ${allowed ? 'public, private and loopback addresses' : 'public addresses only'} (${typeof set === 'boolean' ? 'setting dialPrivate' : `this node announces ${this.c.url}`})`)
      return allowed
    })()
    return this.privateDials
  }

  /** Takes one dial-back from `source`'s budget; DialBudgetError when it is spent. */
  takeDial(source: string | undefined): void {
    if (source === undefined || (isLoopback(source) && !this.c.settings.limitLoopback)) return
    const wait = this.dialBudget.take(addressKey(source))
    if (wait > 0) throw new DialBudgetError(Math.max(1, Math.ceil(wait / 1000)))
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
    const s = this.c.settings
    const peers = this.c.peers
    const now = Date.now()
    const byDid = peers.bannedUntil(did, null, now)
    if (byDid !== null) return {status: 403, code: 'BANNED', problem: `${did} was dropped for sending bad blocks; it may register again after ${new Date(byDid).toISOString()}`}
    let address: string
    try {
      address = (await this.resolve(url)).address
    } catch (err) {
      return {status: 400, code: 'UNREACHABLE', problem: `cannot resolve ${urlHost(url)}: ${(err as Error).message}`}
    }
    if (!dialAllowed(address, await this.dialsPrivate())) {
      return {status: 403, code: 'NOT_ALLOWED', problem: `${url} is at ${address} (${addressRange(address)}): this node dials only public addresses for peers it does not know (setting dialPrivate)`}
    }
    const exempt = isLoopback(address) && !s.limitLoopback
    const byAddress = exempt ? null : peers.bannedUntil(did, address, now)
    if (byAddress !== null) return {status: 403, code: 'BANNED', problem: `a peer at ${address} was dropped for sending bad blocks; no peer from there is taken before ${new Date(byAddress).toISOString()}`}
    const existing = peers.get(did)
    if (!existing && peers.count() + this.pending.size >= s.maxPeers) return {status: 403, code: 'PEER_LIMIT', problem: `the peer table is full (${s.maxPeers} peers)`}
    if (exempt) return {address}
    const [k24, k16] = subnets(address)
    let n24 = 0
    let n16 = 0
    const others = [...peers.list().filter((p) => p.did !== did && p.address).map((p) => p.address!), ...this.pending.values()]
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
   * Admits `did` at `url` for a registration about to start and holds its
   * place (pending) until `release`; null, with the reason logged, when it may not enter.
   */
  async reserve(did: string, url: string, from: string): Promise<string | null> {
    if (this.pending.has(did)) return null // a registration with it is under way
    const problem = await this.admissionProblem(did, url)
    if ('problem' in problem) {
      this.c.log(`peer ${did} from ${from} not admitted: ${problem.problem}`)
      return null
    }
    this.pending.set(did, problem.address)
    return problem.address
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
