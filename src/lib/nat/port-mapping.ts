import {createSocket} from 'node:dgram'
import {readFileSync} from 'node:fs'

/**
 * The port-mapping probe of the NAT test: asks the default gateway whether it
 * speaks NAT-PMP (RFC 6886) or UPnP IGD (SSDP M-SEARCH); it only asks, it never
 * maps a port.
 */

/** How long the gateway probes wait for an answer. */
export const GATEWAY_PROBE_MS = 1_000

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
