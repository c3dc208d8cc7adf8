import {isLocalAddress, urlHost} from '../net/address.js'
import {createSocket} from 'node:dgram'
import {readFileSync} from 'node:fs'
import {NetworkError} from '../errors.js'
import type {Identity} from '../identity/index.js'
import {PeerClient} from '../net/client.js'
import {resolveOnce} from '../net/dial.js'

/**
 * The NAT test (draft 002 "NAT-TEST"; issue 4): a peer dials back to the URL
 * we announce and tells us what address it saw us come from. Reachable means
 * the dial-back reached a node answering as us, not merely that a port is open.
 * The port-mapping probe asks the default gateway whether it speaks NAT-PMP
 * (RFC 6886) or UPnP IGD (SSDP M-SEARCH); it only asks, it never maps a port.
 */

/** How long a dial-back may take: a reachable node answers /v1/hello at once. */
export const DIALBACK_TIMEOUT_MS = 3_000
/** How long the gateway probes wait for an answer. */
export const GATEWAY_PROBE_MS = 1_000
/** Known peers asked by default, in turn, until one answers. */
export const DEFAULT_VIA_PEERS = 3

export interface PortMapping {
  /** The default gateway (from /proc/net/route), or null when there is none or it is not Linux. */
  gateway: string | null
  /** NAT-PMP answered: the gateway's public address. */
  natPmp: {publicAddress: string} | null
  /** A UPnP Internet Gateway Device answered the M-SEARCH: where its description lives. */
  upnp: {location: string; server: string | null} | null
  /** Whether a gateway offers port mapping by either protocol. */
  available: boolean
}

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
  const probe = new PeerClient(url, undefined, 1, {address})
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
    const client = new PeerClient(url, input.identity, 1)
    try {
      const hello = await client.hello({timeoutMs: 5_000, signal: input.signal})
      if (hello.did === input.identity.did) {
        failures.push(`${url} is this node itself`)
        continue
      }
      const answer = await client.dialback(input.announced, {timeoutMs: DIALBACK_TIMEOUT_MS + 5_000, signal: input.signal})
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

/** The IPv4 default gateway from /proc/net/route (little-endian hex), or null. */
export function defaultGateway(routeTable?: string): string | null {
  let text = routeTable
  if (text === undefined) {
    try {
      text = readFileSync('/proc/net/route', 'utf8')
    } catch {
      return null
    }
  }
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/)
    if (f.length < 8 || f[1] !== '00000000' || f[7] !== '00000000') continue
    const hex = f[2]
    if (!/^[0-9A-Fa-f]{8}$/.test(hex) || hex === '00000000') continue
    return [3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join('.')
  }
  return null
}

/** Both probes at once, each within GATEWAY_PROBE_MS; never throws. */
export async function probePortMapping(timeoutMs = GATEWAY_PROBE_MS): Promise<PortMapping> {
  const gateway = defaultGateway()
  const [natPmp, upnp] = await Promise.all([
    gateway ? probeNatPmp(gateway, timeoutMs).catch(() => null) : Promise.resolve(null),
    probeSsdp(timeoutMs).catch(() => null),
  ])
  return {gateway, natPmp, upnp, available: Boolean(natPmp || upnp)}
}

/**
 * Sends one UDP datagram and resolves with the first answer `parse` accepts,
 * or null on timeout or a socket error. The socket is always closed.
 */
function udpAsk<T>(payload: Buffer, port: number, address: string, timeoutMs: number, parse: (msg: Buffer) => T | null): Promise<T | null> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4')
    const done = (v: T | null) => {
      clearTimeout(timer)
      try {
        socket.close()
      } catch {}
      resolve(v)
    }
    const timer = setTimeout(() => done(null), timeoutMs)
    socket.on('error', () => done(null))
    socket.on('message', (msg) => {
      const v = parse(msg)
      if (v !== null) done(v)
    })
    socket.send(payload, port, address, (err) => { if (err) done(null) })
  })
}

/** RFC 6886 §3.2: the external-address request (version 0, opcode 0) to the gateway's port 5351. */
export function probeNatPmp(gateway: string, timeoutMs = GATEWAY_PROBE_MS, port = 5351): Promise<{publicAddress: string} | null> {
  // Answer: version 0, opcode 128, result code (0 = success), epoch, address.
  return udpAsk(Buffer.from([0, 0]), port, gateway, timeoutMs, (msg) =>
    msg.length >= 12 && msg[0] === 0 && msg[1] === 128 && msg.readUInt16BE(2) === 0 ? {publicAddress: [...msg.subarray(8, 12)].join('.')} : null)
}

/** UPnP Device Architecture §1.3.2: M-SEARCH for an Internet Gateway Device, first answer wins. */
export function probeSsdp(timeoutMs = GATEWAY_PROBE_MS, target = {address: '239.255.255.250', port: 1900}): Promise<{location: string; server: string | null} | null> {
  const search = [
    'M-SEARCH * HTTP/1.1',
    `HOST: ${target.address}:${target.port}`,
    'MAN: "ssdp:discover"',
    'MX: 1',
    'ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1',
    '', '',
  ].join('\r\n')
  return udpAsk(Buffer.from(search), target.port, target.address, timeoutMs, (msg) => {
    const text = msg.toString('latin1')
    if (!/^HTTP\/1\.1 200/i.test(text) || !/InternetGatewayDevice|WANIPConnection|WANPPPConnection/i.test(text)) return null
    const location = /^location:\s*(.+?)\s*$/im.exec(text)?.[1]
    return location ? {location, server: /^server:\s*(.+?)\s*$/im.exec(text)?.[1] ?? null} : null
  })
}
