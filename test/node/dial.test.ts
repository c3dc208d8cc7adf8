// What a stranger can make a node dial (issue 20 point 5, issue 14): with a
// throw-away key it used to register any URL for free and the node dialled it
// (127.0.0.1:22, 169.254.169.254, 10.x), and the error text and timing told
// closed, open and HTTP ports apart. Real nodes on 127.0.0.1, hand-made
// signed requests, and TCP listeners that record every connection they get.
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {createServer as createHttpServer} from 'node:http'
import {createServer, type Server, type Socket} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {generateSecretKey, identityFromSecret} from '../../src/lib/identity/index.js'
import {mintPeerRecord} from '../../src/lib/records/peer-record.js'
import {DIAL_BURST} from '../../src/lib/node/discovery.js'
import {Cluster, NodeProcess, waitFor} from './cluster.js'
import {register, signedPost} from './stranger.js'

const BITS = 6
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64')
const newIdentity = (name: string) => identityFromSecret(name, generateSecretKey())

/** A TCP listener that counts the connections it gets and does what `behave` says with each. */
async function listener(host: string, behave: (s: Socket) => void = (s) => s.destroy(), port = 0): Promise<{server: Server; port: number; url: string; connections: () => number}> {
  let n = 0
  const sockets = new Set<Socket>()
  const server = createServer((s) => {
    n++
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
    s.on('error', () => {})
    behave(s)
  })
  ;(server as {closeAllConnections?: () => void}).closeAllConnections = () => { for (const s of sockets) s.destroy() }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const p = (server.address() as {port: number}).port
  return {server, port: p, url: `http://${host}:${p}`, connections: () => n}
}

/** An HTTP server answering /v1/hello as `did` (a stand-in node). */
async function helloServer(host: string, did: string, port = 0): Promise<{server: Server; url: string; port: number}> {
  const server = createHttpServer((req, res) => {
    req.resume()
    res.writeHead(200, {'content-type': 'application/json'})
    res.end(JSON.stringify({did, url: '', version: 1, services: 'polar/1'}))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const p = (server.address() as {port: number}).port
  return {server, url: `http://${host}:${p}`, port: p}
}

const close = (s: Server) => new Promise<void>((r) => {
  ;(s as {closeAllConnections?: () => void}).closeAllConnections?.()
  if (!s.listening) return r()
  s.close(() => r())
})

function withSettings(cluster: Cluster, settings: Record<string, unknown>): string {
  const home = cluster.home()
  writeFileSync(join(home, 'settings.json'), JSON.stringify({stampBits: BITS, ...settings}))
  return home
}

describe('strangers cannot make a node dial what they like', {timeout: 240_000}, () => {
  const cluster = new Cluster()
  const servers: Server[] = []
  after(async () => {
    await cluster.stop()
    await Promise.all(servers.map(close))
  })

  it('a node on a public address (dialPrivate: false) never dials a loopback address it is given, by register, announce or gossip', async () => {
    const node = await cluster.start(withSettings(cluster, {dialPrivate: false}))
    const trap = await listener('127.0.0.1')
    servers.push(trap.server)
    const stranger = newIdentity('stranger')
    for (const url of [trap.url, trap.url.replace('127.0.0.1', 'localhost'), `http://[::ffff:127.0.0.1]:${trap.port}`]) {
      const r = await register(node.url, node.did, stranger, url, BITS)
      assert.equal(r.status, 403, `${url}: ${r.text}`)
      assert.equal(r.body.error.code, 'NOT_ALLOWED', url)
      assert.match(r.body.error.message, /only public addresses/)
    }
    const record = await mintPeerRecord(stranger, {urls: [trap.url], services: 'polar/1', bits: BITS})
    const announced = await signedPost(node.url, '/v1/peers/announce', {record: b64(record.bytes)}, stranger, node.did)
    assert.equal(announced.status, 403, announced.text)
    assert.equal(announced.body.error.code, 'NOT_ALLOWED')
    const other = newIdentity('gossiped')
    const gossiped = await mintPeerRecord(other, {urls: [trap.url], services: 'polar/1', bits: BITS})
    const g = await fetch(`${node.url}/v1/peers/gossip`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({records: [b64(gossiped.bytes)]})})
    assert.equal(g.status, 200)
    await waitFor('the gossiped record to be refused', () => new RegExp(`peer ${other.did} from gossip .* not admitted: .*only public addresses`).test(node.stderr()), {timeoutMs: 10_000})
    assert.match(node.stderr(), /dial-backs for strangers: public addresses only \(setting dialPrivate\)/)
    assert.equal(trap.connections(), 0, 'the node dialled the loopback listener')
  })

  it('whatever the target does (closed, silent, not HTTP, HTTP but not polar, another node), the refusal is the same', async () => {
    // A node on loopback may dial loopback (its neighbours are there): the dial happens, its outcome is not told.
    const node = await cluster.start(withSettings(cluster, {}))
    const closed = await listener('127.0.0.1')
    await close(closed.server)
    const silent = await listener('127.0.0.1', () => {})
    const banner = await listener('127.0.0.1', (s) => s.end('SSH-2.0-OpenSSH_9.6\r\n'))
    const web = createHttpServer((req, res) => {
      req.resume()
      res.writeHead(200, {'content-type': 'text/html'})
      res.end('<html>router admin</html>')
    })
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r))
    const webUrl = `http://127.0.0.1:${(web.address() as {port: number}).port}`
    const otherNode = await helloServer('127.0.0.1', newIdentity('someone-else').did)
    servers.push(silent.server, banner.server, web, otherNode.server)
    const targets = [closed.url, silent.url, banner.url, webUrl, otherNode.url]
    const answers = await Promise.all(targets.map((url, i) => register(node.url, node.did, newIdentity(`s${i}`), url, BITS)))
    const shapes = answers.map((a, i) => ({status: a.status, code: a.body?.error?.code, message: String(a.body?.error?.message).replace(targets[i], 'URL').replace(/did:key:\w+/, 'DID'), keys: Object.keys(a.body ?? {}).join()}))
    for (const s of shapes) assert.deepEqual(s, shapes[0], JSON.stringify(shapes, null, 1))
    assert.equal(shapes[0].status, 400)
    assert.equal(shapes[0].code, 'UNREACHABLE')
    assert.equal(silent.connections() + banner.connections() >= 2, true, 'the dial-backs did happen')
    // The real reasons are in the node's own log.
    assert.match(node.stderr(), /dial-back to \S+ \(127\.0\.0\.1\) failed/)
    assert.match(node.stderr(), /dial-backs for strangers: public, private and loopback addresses \(this node announces http:\/\/127\.0\.0\.1:/)
  })

  it('`peers add` pays its registration stamp once for every node it joins, and mints a fresh one where that one is spent', async () => {
    const [a, b, c] = await Promise.all([0, 1, 2].map(() => cluster.start(withSettings(cluster, {}))))
    for (const [from, to] of [[a, b], [a, c], [a, b]] as const) {
      const r = await from.polar(['peers', 'add', to.url, '--json'])
      assert.equal(r.code, 0, r.stdout.toString() + r.stderr)
    }
    // b saw the reused stamp the second time, refused it as spent, and took the fresh one.
    assert.equal((b.stderr().match(/peer registered: /g) ?? []).length, 2)
  })

  it(`a source gets ${DIAL_BURST} dial-backs at once, then 429 with Retry-After; gossip from it is not dialled either`, async () => {
    // limitLoopback: the budget (like the subnet caps) applies to loopback requesters too.
    const node = await cluster.start(withSettings(cluster, {limitLoopback: true, peersPer24: 1000, peersPer16: 1000}))
    const trap = await listener('127.0.0.1')
    servers.push(trap.server)
    const ports = await Promise.all(Array.from({length: DIAL_BURST + 2}, async () => {
      const l = await listener('127.0.0.1')
      await close(l.server)
      return l.url
    }))
    const answers = await Promise.all(ports.map((url, i) => register(node.url, node.did, newIdentity(`r${i}`), url, BITS)))
    const statuses = answers.map((a) => a.status).sort()
    assert.deepEqual(statuses, [...Array(DIAL_BURST).fill(400), 429, 429], JSON.stringify(answers.map((a) => a.body)))
    const limited = answers.find((a) => a.status === 429)!
    assert.equal(limited.body.error.code, 'RATE_LIMITED')
    assert.match(limited.headers.get('retry-after') ?? '', /^[1-9]\d*$/)
    // The same address's gossip: new peers in it are not dialled while its budget is spent.
    const other = newIdentity('gossiped-late')
    const rec = await mintPeerRecord(other, {urls: [trap.url], services: 'polar/1', bits: BITS})
    await fetch(`${node.url}/v1/peers/gossip`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({records: [b64(rec.bytes)]})})
    await waitFor('the gossip to be left undialled', () => /gossip from \S+: 1 new peer record\(s\) not dialled/.test(node.stderr()), {timeoutMs: 10_000})
    assert.equal(trap.connections(), 0)
  })
})

describe('dial-back resolves a name once and dials that address (DNS rebinding)', {timeout: 120_000}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'polar-rebind-'))
  const hook = join(dir, 'rebind.mjs')
  let node: NodeProcess
  const servers: Server[] = []
  // In the node's process: the first lookup of rebind.polar.test (and of each rebind-NAME.polar.test) answers
  // 127.0.0.2, every later one 127.0.0.1 (a name with a TTL of 0 that its owner re-points after the check).
  writeFileSync(hook, `import dns from 'node:dns'
import {syncBuiltinESMExports} from 'node:module'
const seen = new Map()
const rebinds = (host) => /^rebind(-[a-z0-9]+)?\\.polar\\.test$/.test(host)
const answer = (host) => {
  seen.set(host, (seen.get(host) ?? 0) + 1)
  return seen.get(host) === 1 ? '127.0.0.2' : '127.0.0.1'
}
const lookup = dns.lookup
dns.lookup = function (host, opts, cb) {
  if (typeof opts === 'function') { cb = opts; opts = {} }
  if (!rebinds(host)) return lookup.call(this, host, opts, cb)
  const a = answer(host)
  process.nextTick(() => opts && opts.all ? cb(null, [{address: a, family: 4}]) : cb(null, a, 4))
}
const plookup = dns.promises.lookup
dns.promises.lookup = async function (host, opts) {
  if (!rebinds(host)) return plookup.call(this, host, opts)
  const a = answer(host)
  return opts && opts.all ? [{address: a, family: 4}] : {address: a, family: 4}
}
syncBuiltinESMExports()
`)
  before(async () => {
    const home = mkdtempSync(join(tmpdir(), 'polar-rebind-home-'))
    writeFileSync(join(home, 'settings.json'), JSON.stringify({stampBits: BITS}))
    node = await NodeProcess.start(home, [], {NODE_OPTIONS: `--import ${hook}`})
  })
  after(async () => {
    await node?.stop()
    await Promise.all(servers.map(close))
    rmSync(node.home, {recursive: true, force: true})
    rmSync(dir, {recursive: true, force: true})
  })

  it('a registration at a name is dialled at the address that was checked, not at what the name says a moment later', async () => {
    const who = newIdentity('rebinder')
    // The honest answer on 127.0.0.2; on 127.0.0.1, same port, the "internal service" the name is re-pointed at.
    const honest = await helloServer('127.0.0.2', who.did)
    const internal = await listener('127.0.0.1', (s) => s.destroy(), honest.port)
    servers.push(honest.server, internal.server)
    const r = await register(node.url, node.did, who, `http://rebind.polar.test:${honest.port}`, BITS)
    const reached = internal.connections()
    assert.equal(reached, 0, `the dial-back went to the re-pointed address (${r.status} ${r.text})`)
    assert.equal(r.status, 200, r.text)
    const peers = await (await fetch(`${node.url}/v1/peers`)).json() as {peers: Array<{did: string}>}
    assert.ok(peers.peers.some((p) => p.did === who.did))
  })

  it('a peer in the table is dialled at its admitted address for good: the pooled client never resolves its name again', async () => {
    const who = newIdentity('rebinder-later')
    const honest = await helloServer('127.0.0.2', who.did)
    const internal = await listener('127.0.0.1', (s) => s.destroy(), honest.port)
    servers.push(honest.server, internal.server)
    const r = await register(node.url, node.did, who, `http://rebind-later.polar.test:${honest.port}`, BITS)
    assert.equal(r.status, 200, r.text)
    // The name now says 127.0.0.1; the node's own pooled client (the one its loops and routes use) pings the peer.
    const ping = await node.polar(['peers', 'ping', who.did, '--json'])
    assert.equal(internal.connections(), 0, 'a pooled connection went to the re-pointed address')
    assert.equal(ping.code, 0, ping.stdout.toString() + ping.stderr.toString())
  })
})
