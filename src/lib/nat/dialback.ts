import {isLocalAddress, urlHost} from '../net/address.js'
import {NetworkError} from '../errors.js'
import type {Identity} from '../identity/index.js'
import {PeerClient} from '../net/peer/index.js'
import {resolveOnce} from '../net/dial.js'
import {probePortMapping, type PortMapping} from './port-mapping.js'

/**
 * The NAT test (draft 002 "NAT-TEST"; issue 4): a peer dials back to the URL
 * we announce and tells us what address it saw us come from. Reachable means
 * the dial-back reached a node answering as us, not merely that a port is open.
 */

/** How long a dial-back may take: a reachable node answers /v1/hello at once. */
export const DIALBACK_TIMEOUT_MS = 3_000
/** Known peers asked by default, in turn, until one answers. */
export const DEFAULT_VIA_PEERS = 3

export interface NatReport {
  reachable: boolean
  /** The URL this node announces (what the peer dialed). */
  announced: string
  /** The address:port the peer saw our request come from. */
  observed: string | null
  /** The peer that dialed back. */
  via: {url: string; did: string}
  /** Why the dial-back failed, when it did. */
  reason: string | null
  portMapping: PortMapping
}

/** What the peer answers to POST /v1/nat/dialback. */
export interface DialbackAnswer {
  reachable: boolean
  url: string
  observed: string | null
  reason: string | null
}

/**
 * Where a NAT dial-back for `requester` may go: the one address `url`'s host
 * resolves to (resolved once here and then dialled, so a name cannot resolve
 * to a public address for this check and to a local one for the dial: DNS
 * rebinding, issue 14), or why not. A requester on a global address may not
 * have a local address dialled (net/address.ts isLocalAddress: loopback,
 * RFC 1918, CGNAT, link-local, unique-local, and every other special-purpose
 * range): a stranger on the internet cannot make a node probe its own LAN.
 * An unresolvable host gives no address: the dial-back then fails and says so.
 */
export async function dialBackTarget(url: string, requester: string | undefined): Promise<{refused: string} | {address: string | undefined}> {
  let address: string
  try {
    address = (await resolveOnce(url)).address
  } catch {
    return {address: undefined}
  }
  if (requester && !isLocalAddress(requester) && isLocalAddress(address)) return {refused: `${url} is a local address (${address}) and you are not on this node's network`}
  return {address}
}

/**
 * The peer's side: dials `url`'s /v1/hello (only that, with a short timeout;
 * at `address` when given: the one dialBackTarget checked) and checks it
 * answers as `signer`, the node that asked.
 */
export async function dialBack(url: string, signer: string, signal?: AbortSignal, address?: string): Promise<{reachable: boolean; reason: string | null}> {
  const probe = new PeerClient(url, {connections: 1, address})
  try {
    if (address === undefined) throw new Error(`cannot resolve ${urlHost(url)}`)
    const hello = await probe.hello({timeoutMs: DIALBACK_TIMEOUT_MS, signal})
    if (hello.did !== signer) return {reachable: false, reason: `${url} answers as ${hello.did}, not as ${signer}`}
    return {reachable: true, reason: null}
  } catch (err) {
    return {reachable: false, reason: `could not reach ${url}: ${(err as Error).message}`}
  } finally {
    probe.destroy().catch(() => {})
  }
}

/**
 * Our side: asks each of `via` in turn to dial back to `announced` until one
 * answers, and probes the gateway meanwhile. NetworkError when no peer answers.
 */
export async function natTest(input: {identity: Identity; announced: string; via: string[]; signal?: AbortSignal; probe?: () => Promise<PortMapping>}): Promise<NatReport> {
  if (input.via.length === 0) throw new NetworkError('no peer to ask for a dial-back: add one (polar peers add URL) or name one with --via URL')
  const mapping = (input.probe ?? probePortMapping)()
  const failures: string[] = []
  for (const url of input.via) {
    const client = new PeerClient(url, {identity: input.identity, connections: 1})
    try {
      const hello = await client.hello({timeoutMs: 5_000, signal: input.signal})
      if (hello.did === input.identity.did) {
        failures.push(`${url} is this node itself`)
        continue
      }
      const answer = await client.nat.dialback(input.announced, {timeoutMs: DIALBACK_TIMEOUT_MS + 5_000, signal: input.signal})
      return {
        reachable: answer.reachable,
        announced: input.announced,
        observed: answer.observed,
        via: {url: client.origin, did: hello.did},
        reason: answer.reason,
        portMapping: await mapping,
      }
    } catch (err) {
      if (input.signal?.aborted) throw err
      failures.push(`${url}: ${(err as Error).message}`)
    } finally {
      client.destroy().catch(() => {})
    }
  }
  await mapping
  throw new NetworkError(`no peer could run the NAT test (${failures.join('; ')})`)
}
