// nat-test (issue 4, draft 002 NAT-TEST) with real nodes: a reachable node,
// a node announcing a closed port on loopback, and, where the machine allows
// it (root, `ip netns`, iptables), a node behind a real MASQUERADE NAT.
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {createServer} from 'node:net'
import {after, before, describe, it} from 'node:test'
import {defaultGateway, dialBackTarget, probeNatPmp, probeSsdp} from '../../src/lib/nat/index.js'
import {isLocalAddress} from '../../src/lib/net/address.js'
import {json} from '../helpers.js'
import {generateSecretKey, identityFromSecret} from '../../src/lib/identity/keys.js'
import {signRequest} from '../../src/lib/net/auth.js'
import {Cluster, NodeProcess, type NodeProcess as Node} from '../node/cluster.js'

/**
 * A loopback port nothing listens on, below Linux's ephemeral range
 * (32768–60999): a port freed by a listen(0) here could be handed straight
 * to a node the test starts next on 127.0.0.1:0, which then answers for it.
 */
async function closedPort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 10_000)
    const s = createServer()
    const free = await new Promise<boolean>((r) => {
      s.once('error', () => r(false))
      s.listen(port, '127.0.0.1', () => r(true))
    })
    if (free) {
      await new Promise<void>((r) => s.close(() => r()))
      return port
    }
  }
}

describe('nat-test on loopback', {timeout: 90_000}, () => {
  const cluster = new Cluster()
  let a: Node
  let b: Node
  let closed: Node
  before(async () => {
    const port = await closedPort()
    ;[a, b, closed] = await Promise.all([cluster.start(), cluster.start(), cluster.start(undefined, ['--announce', `http://127.0.0.1:${port}`])])
  })
  after(() => cluster.stop())

  it('reports a reachable node: exit 0, announced and observed address, the peer used', async () => {
    const r = await a.polar(['nat-test', '--via', b.url, '--json'])
    assert.equal(r.code, 0, r.stdout.toString() + r.stderr)
    const out = json(r)
    assert.equal(out.reachable, true)
    assert.equal(out.announced, a.url)
    assert.match(out.observed, /^127\.0\.0\.1:\d+$/)
    assert.deepEqual(out.via, {url: b.url, did: b.did})
    assert.equal(typeof out.portMapping.available, 'boolean')
  })

  it('asks a known live peer by default, and prints a human report', async () => {
    await Cluster.join(a, b)
    const r = await a.polar(['nat-test'])
    assert.equal(r.code, 0, r.stderr)
    const text = r.stdout.toString()
    assert.match(text, /reachable: +yes/)
    assert.ok(text.includes(b.did))
  })

  it('reports a node announcing a closed port as unreachable: exit 5', async () => {
    const r = await closed.polar(['nat-test', '--via', b.url, '--json'])
    assert.equal(r.code, 5, r.stdout.toString() + r.stderr)
    const out = json(r)
    assert.equal(out.reachable, false)
    assert.match(out.announced, /^http:\/\/127\.0\.0\.1:\d+$/)
    assert.match(out.observed, /^127\.0\.0\.1:\d+$/)
    assert.match(out.reason, /could not reach/)
  })

  it('exits 5 when no peer can run the test, 2 for a malformed --via, 2 without a node', async () => {
    const none = await closed.polar(['nat-test', '--json'])
    assert.equal(none.code, 5)
    assert.match(json(none).error.message, /no peer/)
    const dead = await a.polar(['nat-test', '--via', `http://127.0.0.1:${await closedPort()}`, '--json'])
    assert.equal(dead.code, 5)
    const bad = await a.polar(['nat-test', '--via', 'ftp://x', '--json'])
    assert.equal(bad.code, 2)
    const home = cluster.home()
    const {runPolar} = await import('../node/cluster.js')
    const noNode = await runPolar(['nat-test', '--json'], {home})
    assert.equal(noNode.code, 2)
  })

  it('the dial-back route refuses unsigned and malformed requests', async () => {
    const post = (body: string) => fetch(`${b.url}/v1/nat/dialback`, {method: 'POST', headers: {'content-type': 'application/json'}, body, signal: AbortSignal.timeout(5_000)})
    assert.equal((await post(JSON.stringify({url: a.url}))).status, 401)
    assert.equal((await post('{"url": 5}')).status, 400)
    assert.equal((await post(JSON.stringify({url: `${a.url}/v1/blocks`}))).status, 400) // only an origin is dialed
    assert.equal((await post('not json')).status, 400)
  })

  it('the dial-back route caps requests per address: 429 with Retry-After once the burst is spent', async () => {
    const me = identityFromSecret('dialback-flood', generateSecretKey())
    const body = Buffer.from(JSON.stringify({url: a.url}))
    let limited: Response | undefined
    // The burst is 5 (other tests here may have spent some); the dial-backs themselves succeed meanwhile.
    for (let i = 0; i < 10 && !limited; i++) {
      const r = await fetch(`${b.url}/v1/nat/dialback`, {method: 'POST', body, headers: {'content-type': 'application/json', ...signRequest(me, 'POST', '/v1/nat/dialback', body, Date.now(), b.did)}, signal: AbortSignal.timeout(10_000)})
      if (r.status === 429) limited = r
      else assert.equal(r.status, 200, await r.text())
    }
    assert.ok(limited, 'a 429 within 10 requests')
    assert.match(limited.headers.get('retry-after') ?? '', /^[1-9]\d*$/)
    assert.equal(((await limited.json()) as any).error.code, 'RATE_LIMITED')
  })
})

describe('dial-back targets', () => {
  it('tells local addresses from global ones', () => {
    for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '100.64.0.1', '169.254.1.1', '0.0.0.0', '::1', 'fd00::1', 'fe80::1', '::ffff:192.168.0.1', '[::1]']) assert.equal(isLocalAddress(a), true, a)
    for (const a of ['8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700::1111', '::ffff:1.2.3.4']) assert.equal(isLocalAddress(a), false, a)
    // Documentation and benchmarking ranges are special-purpose, not global (issue 14).
    for (const a of ['2001:db8::1', '203.0.113.9', '198.51.100.7', '198.18.0.1']) assert.equal(isLocalAddress(a), true, a)
  })

  it('a requester on a global address may not have a local address dialed; a local one may', async () => {
    // Global requesters: public resolvers' addresses (nothing is dialled here).
    const refused = async (url: string, requester: string) => {
      const t = await dialBackTarget(url, requester)
      return 'refused' in t ? t.refused : null
    }
    assert.match((await refused('http://127.0.0.1:7477', '8.8.8.8'))!, /local address/)
    assert.match((await refused('http://[::1]:7477', '2606:4700::1111'))!, /local address/)
    assert.match((await refused('http://localhost:7477', '8.8.8.8'))!, /local address/)
    assert.equal(await refused('http://1.1.1.1:7477', '8.8.8.8'), null)
    assert.equal(await refused('http://127.0.0.1:7477', '127.0.0.1'), null)
    assert.equal(await refused('http://10.0.0.5:7477', '::ffff:10.0.0.9'), null)
  })
})

describe('port-mapping probe', () => {
  it('reads the default gateway from a route table', () => {
    const table = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\neth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\neth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n'
    assert.equal(defaultGateway(table), '192.0.2.1')
    assert.equal(defaultGateway('Iface\tDestination\n'), null)
  })

  it('NAT-PMP: reads a gateway answer, and gives up after the timeout', async () => {
    const {createSocket} = await import('node:dgram')
    const gw = createSocket('udp4')
    gw.on('message', (msg, rinfo) => {
      if (msg.length === 2 && msg[0] === 0 && msg[1] === 0) gw.send(Buffer.from([0, 128, 0, 0, 0, 0, 0, 9, 203, 0, 113, 7]), rinfo.port, rinfo.address)
    })
    await new Promise<void>((r) => gw.bind(0, '127.0.0.1', r))
    try {
      assert.deepEqual(await probeNatPmp('127.0.0.1', 1_000, gw.address().port), {publicAddress: '203.0.113.7'})
    } finally {
      gw.close()
    }
    assert.equal(await probeNatPmp('127.0.0.1', 200, await closedPort()), null)
  })

  it('SSDP: reads an IGD answer to the M-SEARCH', async () => {
    const {createSocket} = await import('node:dgram')
    const igd = createSocket('udp4')
    igd.on('message', (msg, rinfo) => {
      if (msg.toString().startsWith('M-SEARCH')) igd.send(Buffer.from('HTTP/1.1 200 OK\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nLOCATION: http://192.0.2.1:5000/igd.xml\r\nSERVER: test/1\r\n\r\n'), rinfo.port, rinfo.address)
    })
    await new Promise<void>((r) => igd.bind(0, '127.0.0.1', r))
    try {
      assert.deepEqual(await probeSsdp(1_000, {address: '127.0.0.1', port: igd.address().port}), {location: 'http://192.0.2.1:5000/igd.xml', server: 'test/1'})
    } finally {
      igd.close()
    }
  })
})

/** Why the netns test cannot run here, or undefined when it can. */
function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux'
  if (process.getuid?.() !== 0) return 'not root'
  for (const bin of ['ip', 'iptables']) {
    try {
      execFileSync('sh', ['-c', `command -v ${bin}`], {stdio: 'ignore'})
    } catch {
      return `no ${bin} on PATH`
    }
  }
  const probe = `polarprobe${randomBytes(3).toString('hex')}`
  try {
    execFileSync('ip', ['netns', 'add', probe], {stdio: 'ignore'})
    execFileSync('ip', ['netns', 'exec', probe, 'iptables', '-t', 'nat', '-L', '-n'], {stdio: 'ignore'})
  } catch (err) {
    return `ip netns / iptables do not work here (${(err as Error).message.split('\n')[0]})`
  } finally {
    try {
      execFileSync('ip', ['netns', 'del', probe], {stdio: 'ignore'})
    } catch {}
  }
  return undefined
}

const skipNetns = netnsUnavailable()

/**
 * inner ns (node C, 10.R.1.2) -- router ns (MASQUERADE out of 10.R.2.2) -- host (node B, 10.R.2.1).
 * The host has no route to 10.R.1.0/24: C can reach B, B cannot reach C, as behind a home router.
 */
describe('nat-test behind a real NAT (network namespaces + iptables MASQUERADE)', {timeout: 90_000, skip: skipNetns ? `skipped: ${skipNetns} (needs root, ip netns and iptables)` : false}, () => {
  const id = randomBytes(3).toString('hex')
  const inner = `pin${id}`
  const router = `prt${id}`
  const r = 100 + (randomBytes(1)[0] % 150)
  const sh = (...args: string[]) => execFileSync(args[0], args.slice(1), {stdio: ['ignore', 'ignore', 'pipe']})
  const cluster = new Cluster()
  let outside: Node
  let behind: Node
  let forwarded: Node
  const port = 20_000 + (randomBytes(2).readUInt16BE(0) % 30_000) // the ns is fresh: any port is free in it
  before(async () => {
    try {
      sh('ip', 'netns', 'add', inner)
      sh('ip', 'netns', 'add', router)
      // inner <-> router
      sh('ip', 'link', 'add', `vi${id}`, 'netns', inner, 'type', 'veth', 'peer', 'name', `vr${id}`, 'netns', router)
      // router <-> host
      sh('ip', 'link', 'add', `vh${id}`, 'type', 'veth', 'peer', 'name', `vo${id}`, 'netns', router)
      const inNs = (ns: string, ...a: string[]) => sh('ip', 'netns', 'exec', ns, ...a)
      inNs(inner, 'ip', 'link', 'set', 'lo', 'up')
      inNs(inner, 'ip', 'addr', 'add', `10.${r}.1.2/24`, 'dev', `vi${id}`)
      inNs(inner, 'ip', 'link', 'set', `vi${id}`, 'up')
      inNs(inner, 'ip', 'route', 'add', 'default', 'via', `10.${r}.1.1`)
      inNs(router, 'ip', 'link', 'set', 'lo', 'up')
      inNs(router, 'ip', 'addr', 'add', `10.${r}.1.1/24`, 'dev', `vr${id}`)
      inNs(router, 'ip', 'link', 'set', `vr${id}`, 'up')
      inNs(router, 'ip', 'addr', 'add', `10.${r}.2.2/24`, 'dev', `vo${id}`)
      inNs(router, 'ip', 'link', 'set', `vo${id}`, 'up')
      inNs(router, 'sysctl', '-qw', 'net.ipv4.ip_forward=1')
      inNs(router, 'iptables', '-t', 'nat', '-A', 'POSTROUTING', '-o', `vo${id}`, '-j', 'MASQUERADE')
      // A port forward on the router, as an operator would set up: router:PORT -> inner:PORT.
      inNs(router, 'iptables', '-t', 'nat', '-A', 'PREROUTING', '-i', `vo${id}`, '-p', 'tcp', '--dport', String(port), '-j', 'DNAT', '--to-destination', `10.${r}.1.2:${port}`)
      sh('ip', 'addr', 'add', `10.${r}.2.1/24`, 'dev', `vh${id}`)
      sh('ip', 'link', 'set', `vh${id}`, 'up')
    } catch (err) {
      throw new Error(`netns setup failed: ${(err as any).stderr?.toString() ?? err}`)
    }
    outside = await cluster.start(cluster.home(), ['--listen', `10.${r}.2.1:0`])
    const home = cluster.home()
    behind = await NodeProcess.start(home, ['--listen', `10.${r}.1.2:0`], {}, ['ip', 'netns', 'exec', inner])
    cluster.nodes.push(behind)
    forwarded = await NodeProcess.start(cluster.home(), ['--listen', `10.${r}.1.2:${port}`, '--announce', `http://10.${r}.2.2:${port}`], {}, ['ip', 'netns', 'exec', inner])
    cluster.nodes.push(forwarded)
  })
  after(async () => {
    await cluster.stop()
    for (const ns of [inner, router]) {
      try {
        sh('ip', 'netns', 'del', ns) // takes its veth ends, addresses and iptables rules with it
      } catch {}
    }
    try {
      sh('ip', 'link', 'del', `vh${id}`)
    } catch {}
  })

  it('the node behind the NAT reaches out but is not reachable: exit 5, observed is the router', async () => {
    const r1 = await behind.polar(['nat-test', '--via', outside.url, '--json'])
    assert.equal(r1.code, 5, r1.stdout.toString() + r1.stderr + cluster.logs())
    const out = json(r1)
    assert.equal(out.reachable, false)
    assert.equal(out.announced, behind.url)
    assert.match(out.observed, new RegExp(`^10\\.${r}\\.2\\.2:\\d+$`), 'the peer saw the router, not the node')
    assert.equal(out.via.did, outside.did)
  })

  it('the same NAT with a port forward, announcing the router address: reachable, exit 0', async () => {
    const r3 = await forwarded.polar(['nat-test', '--via', outside.url, '--json'])
    assert.equal(r3.code, 0, r3.stdout.toString() + r3.stderr + cluster.logs())
    const out = json(r3)
    assert.equal(out.reachable, true)
    assert.equal(out.announced, `http://10.${r}.2.2:${port}`)
    assert.match(out.observed, new RegExp(`^10\\.${r}\\.2\\.2:\\d+$`))
  })

  it('a node outside cannot even ask the one behind the NAT: exit 5, no peer answered', async () => {
    const r2 = await outside.polar(['nat-test', '--via', behind.url, '--json'])
    // The node behind the NAT can take the request only if it is reachable: it is not, so no peer answers.
    assert.equal(r2.code, 5)
    assert.match(json(r2).error.message, /no peer/)
  })
})
