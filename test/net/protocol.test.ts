// The peer protocol against a real node, over plain HTTP (issue 3, "Bad input"):
// every route validates before it acts. Unknown paths 404, wrong methods 405,
// malformed bodies 400, oversized ones 413 (before they are buffered),
// unsigned / badly signed / stale / replayed requests 401, non-peers 403, and
// a peer that serves wrong-hash blocks is counted, dropped, and kept out for a
// back-off that grows (issue 20). No route stores blocks a peer pushes.
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {createServer, request as httpRequest, type IncomingHttpHeaders, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {after, before, describe, it} from 'node:test'
import {CID} from 'multiformats/cid'
import {cidOf} from '../../src/lib/content/cid.js'
import {DAG_CBOR_CODE, DAG_PB_CODE, RAW_CODE} from '../../src/lib/content/constants.js'
import {generateSecretKey, identityFromSecret, KeyStore, type Identity} from '../../src/lib/identity/index.js'
import {HEADER_SIG, HEADER_TIME, signRequest as signRequestFor} from '../../src/lib/net/auth.js'
import {encodeFrames} from '../../src/lib/net/frames.js'
import {mintStamp, writeStampResource} from '../../src/lib/records/stamp.js'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import Database from 'better-sqlite3'
import {BAN_BASE_MS} from '../../src/lib/node/peer-table.js'
import {registerPayload} from '../node/stranger.js'
import {signObjectRecord} from '../../src/lib/records/index.js'
import {json} from '../helpers.js'
import {Cluster, localApi, runPolar, waitFor, type NodeProcess} from '../node/cluster.js'

/** Requests in these tests are signed for the node under test (`x-polar-to`). */
let nodeDid: string | undefined
const signRequest = (...a: Parameters<typeof signRequestFor>) => signRequestFor(a[0], a[1], a[2], a[3], a[4], a[5] ?? nodeDid)

const MiB = 1024 * 1024
/** Registration stamps in these tests (the default, 19 bits, is about a second each). */
const STAMP_BITS = 8

interface Reply {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
  json: any
}

/** One HTTP request on a fresh connection; the whole answer. */
function send(base: string, method: string, path: string, {headers = {}, body}: {headers?: Record<string, string>; body?: Uint8Array | string} = {}): Promise<Reply> {
  const u = new URL(base)
  return new Promise((resolve, reject) => {
    const req = httpRequest({host: u.hostname, port: u.port, method, path, headers, agent: false}, (res) => {
      const parts: Buffer[] = []
      res.on('data', (d) => parts.push(d))
      res.on('end', () => {
        const b = Buffer.concat(parts)
        let parsed: any
        try {
          parsed = JSON.parse(b.toString('utf8'))
        } catch {}
        resolve({status: res.statusCode!, headers: res.headers, body: b, json: parsed})
      })
      res.on('error', reject)
    })
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path}: no answer in 10 s`)))
    req.on('error', reject)
    req.end(body)
  })
}

/**
 * Sends the headers and only `prefix` of a body whose Content-Length says
 * more, and waits for the answer: a node that buffers the whole body first
 * never answers (the rest never comes).
 */
function sendPartial(base: string, path: string, headers: Record<string, string>, prefix: Uint8Array, waitMs = 5_000): Promise<{status: number; json: any} | 'no answer'> {
  const u = new URL(base)
  return new Promise((resolve, reject) => {
    const req = httpRequest({host: u.hostname, port: u.port, method: 'POST', path, headers, agent: false})
    const timer = setTimeout(() => {
      req.destroy()
      resolve('no answer')
    }, waitMs)
    req.on('response', (res) => {
      const parts: Buffer[] = []
      res.on('data', (d) => parts.push(d))
      res.on('end', () => {
        clearTimeout(timer)
        let parsed: any
        try {
          parsed = JSON.parse(Buffer.concat(parts).toString('utf8'))
        } catch {}
        resolve({status: res.statusCode!, json: parsed})
        req.destroy()
      })
    })
    req.on('error', (err) => {
      clearTimeout(timer)
      if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' || (err as NodeJS.ErrnoException).code === 'EPIPE') resolve('no answer')
      else reject(err)
    })
    req.flushHeaders()
    if (prefix.length) req.write(prefix)
  })
}

function signed(identity: Identity, method: string, path: string, body: Uint8Array = new Uint8Array(0), extra: Record<string, string> = {}, now?: number): {headers: Record<string, string>; body: Uint8Array} {
  return {headers: {...signRequest(identity, method, path, body, now), ...extra}, body}
}

function newIdentity(name = 'test'): Identity {
  return identityFromSecret(name, generateSecretKey())
}

/**
 * A stand-in peer: answers GET /v1/hello as `identity` (so a node can register
 * it) and serves `blocks` (whatever bytes it is given, right or wrong).
 */
async function fakePeer(identity: Identity, claim = identity.did, blocks = new Map<string, Uint8Array>()): Promise<{server: Server; url: string}> {
  const server = createServer((req, res) => {
    req.resume()
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    if (req.url === '/v1/hello' || (req.method === 'POST' && req.url === '/v1/peers/register')) {
      res.writeHead(200, {'content-type': 'application/json'})
      res.end(JSON.stringify({did: claim, url, version: 1, services: 'polar/1 fake'}))
      return
    }
    const block = req.url?.startsWith('/v1/blocks/') ? blocks.get(req.url.slice('/v1/blocks/'.length)) : undefined
    if (block) {
      res.writeHead(200, {'content-type': 'application/vnd.ipld.raw', 'content-length': block.length})
      res.end(block)
      return
    }
    res.writeHead(404, {'content-type': 'application/json'})
    res.end('{"error":{"code":"NO_ROUTE","message":"fake peer"}}')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`}
}

const closeServer = (s: Server) => new Promise<void>((r) => {
  s.closeAllConnections()
  s.close(() => r())
})

/** A valid raw block and its CID. */
function rawBlock(size = 1000): {cid: CID; bytes: Uint8Array} {
  const bytes = randomBytes(size)
  return {cid: cidOf(RAW_CODE, bytes), bytes}
}

describe('the /v1 peer protocol refuses bad input', {timeout: 90_000}, () => {
  const cluster = new Cluster()
  const servers: Server[] = []
  let node: NodeProcess
  let base: string
  const peer = newIdentity('peer')
  let peerUrl: string

  /** Registers `identity` (reachable at `url`) with the node as a peer, paying the stamp a registration costs. */
  async function register(identity: Identity, url: string): Promise<Reply> {
    const body = Buffer.from(JSON.stringify(await registerPayload(identity, url, STAMP_BITS)))
    return send(base, 'POST', '/v1/peers/register', signed(identity, 'POST', '/v1/peers/register', body))
  }

  before(async () => {
    const home = cluster.home()
    writeFileSync(join(home, 'settings.json'), JSON.stringify({stampBits: STAMP_BITS}))
    node = await cluster.start(home)
    nodeDid = node.did
    base = node.url
    const fake = await fakePeer(peer)
    servers.push(fake.server)
    peerUrl = fake.url
    const r = await register(peer, peerUrl)
    assert.equal(r.status, 200, r.body.toString())
    assert.equal(r.json.did, node.did)
  })
  after(async () => {
    await cluster.stop()
    await Promise.all(servers.map(closeServer))
  })

  describe('routing', () => {
    it('unknown paths are 404 NO_ROUTE', async () => {
      for (const path of ['/', '/nope', '/v2/hello', '/v1/hello/extra', '/v1/blocks/has/x', '/v1/blocks/' + 'a'.repeat(201), '/V1/HELLO', '/v1//hello']) {
        const r = await send(base, 'GET', path)
        assert.equal(r.status, 404, path)
        assert.equal(r.json?.error?.code, 'NO_ROUTE', path)
      }
    })

    it('a known path with the wrong method is 405 with Allow', async () => {
      const cases: Array<[string, string, string]> = [['POST', '/v1/hello', 'GET'], ['PUT', '/v1/blocks/has', 'POST, GET'], ['DELETE', '/v1/peers', 'GET'], ['GET', '/v1/replicate', 'POST'], ['GET', '/v1/objects', 'POST'], ['PATCH', '/v1/peers/register', 'POST']]
      for (const [method, path, allow] of cases) {
        const r = await send(base, method, path, {body: method === 'GET' ? undefined : '{}'})
        assert.equal(r.status, 405, `${method} ${path}`)
        assert.equal(r.json?.error?.code, 'METHOD_NOT_ALLOWED')
        assert.equal(r.headers.allow, allow)
      }
    })

    it('HEAD works where GET does', async () => {
      const r = await send(base, 'HEAD', '/v1/hello')
      assert.equal(r.status, 200)
      assert.equal(r.body.length, 0)
    })
  })

  describe('JSON bodies', () => {
    it('malformed JSON is 400 BAD_JSON; the wrong shape 400 BAD_REQUEST', async () => {
      for (const body of ['{nope', '', '\u0000', '{"cids": [', 'null x']) {
        const r = await send(base, 'POST', '/v1/blocks/has', {body, headers: {'content-type': 'application/json'}})
        assert.equal(r.status, 400, JSON.stringify(body))
        assert.equal(r.json.error.code, 'BAD_JSON')
      }
      for (const body of ['null', '5', '[]', '{"cids": 5}', '{"cids": [1]}', '{"cids": [null]}', JSON.stringify({cids: Array(1025).fill('x')})]) {
        const r = await send(base, 'POST', '/v1/blocks/has', {body})
        assert.equal(r.status, 400, body.slice(0, 40))
        assert.equal(r.json.error.code, 'BAD_REQUEST')
      }
    })

    it('has answers false for junk CIDs instead of failing', async () => {
      const good = rawBlock()
      const r = await send(base, 'POST', '/v1/blocks/has', {body: JSON.stringify({cids: ['junk', '', good.cid.toString(), 'bafkqaaa', 'Qm' + 'x'.repeat(44)]})})
      assert.equal(r.status, 200)
      assert.deepEqual(r.json.have, [false, false, false, false, false])
    })

    it('an oversized JSON body is 413, declared or chunked', async () => {
      const big = JSON.stringify({cids: ['x'.repeat(300 * 1024)]})
      const declared = await send(base, 'POST', '/v1/blocks/has', {body: big})
      assert.equal(declared.status, 413)
      assert.equal(declared.json.error.code, 'TOO_LARGE')
      // Content-Length alone over the cap: refused before a byte of body is sent.
      const early = await sendPartial(base, '/v1/blocks/has', {'content-length': String(300 * 1024)}, new Uint8Array(0))
      assert.notEqual(early, 'no answer')
      assert.equal((early as any).status, 413)
      // Chunked (no Content-Length): cut off once the count passes the cap.
      const chunked = await sendPartial(base, '/v1/blocks/has', {'transfer-encoding': 'chunked'}, Buffer.from(big))
      assert.notEqual(chunked, 'no answer')
      assert.equal((chunked as any).status, 413)
      for (const path of ['/v1/peers/register', '/v1/replicate']) {
        const r = await send(base, 'POST', path, {body: big})
        assert.equal(r.status, 413, path)
      }
    })

    it('the node still answers after all that', async () => {
      assert.equal((await send(base, 'GET', '/v1/hello')).status, 200)
    })
  })

  describe('signed requests', () => {
    // POST /v1/replicate stands in for every signed peer route: a body of the right
    // shape whose record does not decode gets past the signature checks to 400 BAD_RECORD.
    const R = '/v1/replicate'
    const rep = Buffer.from('{"record":"AAAA"}')

    it('an unsigned POST /v1/replicate is 401 UNSIGNED', async () => {
      const r = await send(base, 'POST', R, {body: rep})
      assert.equal(r.status, 401)
      assert.equal(r.json.error.code, 'UNSIGNED')
    })

    it('a signature over something else is 401 BAD_SIGNATURE', async () => {
      const cases: Array<Record<string, string>> = [
        signRequest(peer, 'POST', R, randomBytes(10)), // another body
        signRequest(peer, 'POST', '/v1/blocks/has', rep), // another path
        signRequest(peer, 'PUT', R, rep), // another method
        {...signRequest(peer, 'POST', R, rep), 'x-polar-did': 'did:key:zNotAKey'},
        {...signRequest(peer, 'POST', R, rep), [HEADER_SIG]: 'AAAA'},
        {...signRequest(peer, 'POST', R, rep), [HEADER_SIG]: Buffer.alloc(64).toString('base64url')},
      ]
      for (const headers of cases) {
        const r = await send(base, 'POST', R, {headers, body: rep})
        assert.equal(r.status, 401, JSON.stringify(headers))
        assert.equal(r.json.error.code, 'BAD_SIGNATURE')
      }
      // Claiming to be another peer: the did is a peer's, the signature is not its.
      const p2 = newIdentity('p-claim')
      const fake = await fakePeer(p2)
      servers.push(fake.server)
      assert.equal((await register(p2, fake.url)).status, 200)
      const claim = await send(base, 'POST', R, {headers: {...signRequest(peer, 'POST', R, rep), 'x-polar-did': p2.did}, body: rep})
      assert.equal(claim.status, 401)
      assert.equal(claim.json.error.code, 'BAD_SIGNATURE')
      // The time is part of what is signed.
      const h = signRequest(peer, 'POST', R, rep)
      const r = await send(base, 'POST', R, {headers: {...h, [HEADER_TIME]: String(Number(h[HEADER_TIME]) + 1)}, body: rep})
      assert.equal(r.status, 401)
    })

    it('a stale or future time is 401 STALE_REQUEST, even with a good signature', async () => {
      for (const skew of [-10 * 60_000, 10 * 60_000]) {
        const r = await send(base, 'POST', R, signed(peer, 'POST', R, rep, {}, Date.now() + skew))
        assert.equal(r.status, 401)
        assert.equal(r.json.error.code, 'STALE_REQUEST')
      }
      for (const time of ['', 'abc', '-1', '1e12', '99999999999999999', ' 1']) {
        const h = signRequest(peer, 'POST', R, rep)
        const r = await send(base, 'POST', R, {headers: {...h, [HEADER_TIME]: time}, body: rep})
        assert.equal(r.status, 401, JSON.stringify(time))
      }
    })

    it("a peer's well-signed request gets past the checks; the exact replay is 401 REPLAYED", async () => {
      const req = signed(peer, 'POST', R, rep)
      const first = await send(base, 'POST', R, req)
      assert.equal(first.status, 400, first.body.toString())
      assert.equal(first.json.error.code, 'BAD_RECORD', 'the signature was accepted; the record is what is wrong')
      const again = await send(base, 'POST', R, req)
      assert.equal(again.status, 401)
      assert.equal(again.json.error.code, 'REPLAYED')
    })

    it('the replay guard cannot be dodged by spelling the signature differently', async () => {
      const req = signed(peer, 'POST', R, rep)
      assert.equal((await send(base, 'POST', R, req)).json.error.code, 'BAD_RECORD')
      const sig = req.headers[HEADER_SIG]
      const std = sig.replace(/-/g, '+').replace(/_/g, '/')
      for (const variant of [sig + '=', sig + '==', ' ' + sig, sig.slice(0, 20) + '.' + sig.slice(20), std === sig ? sig + '=' : std]) {
        const r = await send(base, 'POST', R, {headers: {...req.headers, [HEADER_SIG]: variant}, body: rep})
        assert.equal(r.status, 401, `signature spelled ${JSON.stringify(variant)} was accepted again`)
      }
    })

    it('a well-signed request from a key that is not a peer is 403 UNKNOWN_PEER', async () => {
      const stranger = newIdentity('stranger')
      const r = await send(base, 'POST', R, signed(stranger, 'POST', R, rep))
      assert.equal(r.status, 403)
      assert.equal(r.json.error.code, 'UNKNOWN_PEER')
    })

    it('no route stores blocks a peer pushes: POST /v1/blocks is gone, and nothing of the batch is kept (issue 20)', async () => {
      // It used to store any hash-valid block a registered peer sent (512 MiB in 6 s, never referenced).
      const blocks = [rawBlock(1000), rawBlock(2000)]
      const frames = encodeFrames(blocks)
      const r = await send(base, 'POST', '/v1/blocks', signed(peer, 'POST', '/v1/blocks', frames))
      assert.equal(r.status, 404, r.body.toString())
      assert.equal(r.json.error.code, 'NO_ROUTE')
      const has = await send(base, 'POST', '/v1/blocks/has', {body: JSON.stringify({cids: blocks.map((b) => b.cid.toString())})})
      assert.deepEqual(has.json.have, [false, false])
      // A body over any cap is not read either.
      const big = await sendPartial(base, '/v1/blocks', {...signRequest(peer, 'POST', '/v1/blocks', new Uint8Array(0)), 'content-length': String(40 * MiB)}, new Uint8Array(0))
      assert.notEqual(big, 'no answer', 'the node waited for a 40 MiB body')
      assert.equal((big as any).status, 404)
    })

    it('a peer that serves wrong-hash blocks is counted, dropped after 3, and cannot register again at once; each drop bans it twice as long (issue 20)', async () => {
      const bad = newIdentity('p-bad')
      const blocks = new Map<string, Uint8Array>()
      const fake = await fakePeer(bad, bad.did, blocks)
      servers.push(fake.server)
      assert.equal((await register(bad, fake.url)).status, 200)
      const owner = newIdentity('owner-bad')
      const peerRow = async () => (await localApi(node.socket, 'GET', '/api/v1/peers')).body.peers.find((p: any) => p.did === bad.did)
      /** Asks the node to replicate an object whose one block the fake peer serves with the wrong bytes. */
      const replicateWrong = async () => {
        const good = rawBlock(300)
        blocks.set(good.cid.toString(), randomBytes(300))
        const rec = signObjectRecord({root: good.cid, size: 300, name: 'x', mime: 'application/octet-stream', tags: [], time: Date.now()}, owner)
        const body = Buffer.from(JSON.stringify({record: Buffer.from(rec.bytes).toString('base64')}))
        return send(base, 'POST', R, signed(bad, 'POST', R, body))
      }
      const dbPath = join(node.home, 'polar.db')
      const banRow = () => {
        const db = new Database(dbPath, {readonly: true, fileMustExist: true})
        try {
          return db.prepare('SELECT strikes, until FROM peer_bans WHERE did = ?').get(bad.did) as {strikes: number; until: number} | undefined
        } finally {
          db.close()
        }
      }
      for (let round = 1; round <= 2; round++) {
        assert.equal((await peerRow()).badBlocks, 0)
        for (let i = 1; i <= 3; i++) {
          const r = await replicateWrong()
          assert.ok(r.status >= 400 && r.status < 500, `${r.status} ${r.body}`)
          if (i < 3) assert.equal((await peerRow()).badBlocks, i, `${r.status} ${r.body}\n${node.stderr().slice(-3000)}`)
        }
        const droppedAt = Date.now()
        assert.equal(await peerRow(), undefined, 'dropped from the peer table')
        assert.ok(!(await send(base, 'GET', '/v1/peers')).json.peers.some((p: any) => p.did === bad.did))
        // Registering again is what it used to take to come back: refused now, with the end of the ban.
        const again = await register(bad, fake.url)
        assert.equal(again.status, 403, again.body.toString())
        assert.equal(again.json.error.code, 'BANNED')
        assert.match(again.json.error.message, /dropped for sending bad blocks/)
        const row = banRow()!
        assert.equal(row.strikes, round)
        const length = row.until - droppedAt
        assert.ok(length > (2 ** (round - 1)) * BAN_BASE_MS * 0.95 && length <= (2 ** (round - 1)) * BAN_BASE_MS, `ban ${length} ms after drop ${round}`)
        // Its signed requests are a stranger's now.
        assert.equal((await send(base, 'POST', R, signed(bad, 'POST', R, rep))).status, 403, 'not a peer any more')
        // The operator may take it back by hand (peers add lifts the ban); then it starts over.
        const added = await node.polar(['peers', 'add', fake.url, '--json'])
        assert.equal(added.code, 0, added.stdout + added.stderr)
      }
      assert.match(node.stderr(), /sent a bad block \S+; dropped it/)
      await localApi(node.socket, 'DELETE', `/api/v1/peers/${bad.did}`)
    })
  })

  describe('registration and the other routes', () => {
    it('register checks the signature and dials the URL back', async () => {
      const who = newIdentity()
      const unsigned = await send(base, 'POST', '/v1/peers/register', {body: JSON.stringify({url: peerUrl})})
      assert.equal(unsigned.status, 401)
      // The URL answers as another did: no claiming someone else's address.
      const r = await register(who, peerUrl)
      assert.equal(r.status, 400)
      assert.equal(r.json.error.code, 'UNREACHABLE')
      // Nothing listens there: the same answer (a stranger learns nothing about the target).
      const gone = await register(who, 'http://127.0.0.1:1')
      assert.equal(gone.status, 400)
      assert.equal(gone.json.error.code, 'UNREACHABLE')
      assert.equal(gone.json.error.message.replace('http://127.0.0.1:1', 'URL'), r.json.error.message.replace(peerUrl, 'URL'))
      // Without a stamp (or with a stamp for another URL): 403 STAMP_REQUIRED, nothing dialled.
      const unstamped = await send(base, 'POST', '/v1/peers/register', signed(who, 'POST', '/v1/peers/register', Buffer.from(JSON.stringify({url: peerUrl}))))
      assert.equal(unstamped.status, 403)
      assert.equal(unstamped.json.error.code, 'STAMP_REQUIRED')
      assert.equal(unstamped.json.stampBits, STAMP_BITS)
      const elsewhere = Buffer.from(JSON.stringify({...(await registerPayload(who, 'http://127.0.0.1:2', STAMP_BITS)), url: peerUrl}))
      assert.equal((await send(base, 'POST', '/v1/peers/register', signed(who, 'POST', '/v1/peers/register', elsewhere))).json.error.code, 'STAMP_REQUIRED')
      // A stamp is spent once here, whatever came of the dial-back it paid for.
      const once = Buffer.from(JSON.stringify(await registerPayload(who, 'http://127.0.0.1:1', STAMP_BITS)))
      assert.equal((await send(base, 'POST', '/v1/peers/register', signed(who, 'POST', '/v1/peers/register', once))).json.error.code, 'UNREACHABLE')
      const twice = await send(base, 'POST', '/v1/peers/register', signed(who, 'POST', '/v1/peers/register', once))
      assert.equal(twice.json.error.code, 'STAMP_REQUIRED')
      assert.match(twice.json.error.message, /already spent/)
      for (const url of ['not a url', 'ftp://127.0.0.1/', 'x'.repeat(600), 5, null]) {
        const body = Buffer.from(JSON.stringify({url}))
        const bad = await send(base, 'POST', '/v1/peers/register', signed(who, 'POST', '/v1/peers/register', body))
        assert.equal(bad.status, 400, JSON.stringify(url))
      }
      const peers = (await send(base, 'GET', '/v1/peers')).json.peers
      assert.ok(!peers.some((p: any) => p.did === who.did))
    })

    it('a registered peer is listed with the service string from its hello', async () => {
      const p2 = newIdentity('p2')
      const fake = await fakePeer(p2)
      servers.push(fake.server)
      assert.equal((await register(p2, fake.url)).status, 200)
      const row = (await localApi(node.socket, 'GET', '/api/v1/peers')).body.peers.find((p: any) => p.did === p2.did)
      assert.equal(row.url, fake.url)
      assert.equal(row.services, 'polar/1 fake')
    })

    it('replicate takes only a valid signed record from a peer', async () => {
      const p3 = newIdentity('p3')
      const fake = await fakePeer(p3)
      servers.push(fake.server)
      assert.equal((await register(p3, fake.url)).status, 200)
      const post = (payload: unknown) => {
        const body = Buffer.from(JSON.stringify(payload))
        return send(base, 'POST', '/v1/replicate', signed(p3, 'POST', '/v1/replicate', body))
      }
      for (const payload of [{}, {record: 5}, {record: 'x', sources: 'y'}, {record: 'x', sources: Array(17).fill('u')}]) {
        const r = await post(payload)
        assert.equal(r.status, 400, JSON.stringify(payload))
      }
      for (const record of ['', 'AAAA', randomBytes(200).toString('base64')]) {
        const r = await post({record})
        assert.equal(r.status, 400)
        assert.equal(r.json.error.code, 'BAD_RECORD')
      }
      // A valid record for an object no one holds: 404, not a crash or a hang.
      const owner = newIdentity('owner')
      const rec = signObjectRecord({root: rawBlock().cid, size: 1000, name: 'x', mime: 'application/octet-stream', tags: [], time: Date.now()}, owner)
      const r = await post({record: Buffer.from(rec.bytes).toString('base64')})
      assert.equal(r.status, 404, r.body.toString())
    })

    it('replicate of an object that is not a UnixFS file, or that the sender serves wrong, is refused with a 4xx', async () => {
      const blocks = new Map<string, Uint8Array>()
      const p4 = newIdentity('p4')
      const fake = await fakePeer(p4, p4.did, blocks)
      servers.push(fake.server)
      assert.equal((await register(p4, fake.url)).status, 200)
      const owner = newIdentity('owner')
      const post = (root: CID) => {
        const rec = signObjectRecord({root, size: 10, name: 'x', mime: 'application/octet-stream', tags: [], time: Date.now()}, owner)
        const body = Buffer.from(JSON.stringify({record: Buffer.from(rec.bytes).toString('base64')}))
        return send(base, 'POST', '/v1/replicate', signed(p4, 'POST', '/v1/replicate', body))
      }
      // A dag-cbor root (a supported codec, but not a file).
      const cbor = Buffer.from([0xa1, 0x61, 0x61, 0x01])
      const cborCid = cidOf(DAG_CBOR_CODE, cbor)
      blocks.set(cborCid.toString(), cbor)
      const r1 = await post(cborCid)
      assert.ok(r1.status >= 400 && r1.status < 500, `dag-cbor root: ${r1.status} ${r1.body}`)
      // A dag-pb root that does not decode.
      const junk = randomBytes(64)
      const pbCid = cidOf(DAG_PB_CODE, junk)
      blocks.set(pbCid.toString(), junk)
      const r2 = await post(pbCid)
      assert.ok(r2.status >= 400 && r2.status < 500, `junk dag-pb root: ${r2.status} ${r2.body}`)
      // A raw root whose bytes the sender gets wrong.
      const raw = rawBlock(100)
      blocks.set(raw.cid.toString(), randomBytes(100))
      const r3 = await post(raw.cid)
      assert.ok(r3.status >= 400 && r3.status < 500, `wrong bytes: ${r3.status} ${r3.body}`)
      assert.equal(r1.json.error.code, 'BAD_OBJECT')
      assert.equal(r2.json.error.code, 'BAD_OBJECT')
      // The wrong bytes were not kept; the record of none of them was.
      const has = await send(base, 'POST', '/v1/blocks/has', {body: JSON.stringify({cids: [raw.cid.toString()]})})
      assert.deepEqual(has.json.have, [false])
      for (const c of [cborCid, pbCid, raw.cid]) assert.deepEqual((await send(base, 'GET', `/v1/records?root=${c}`)).json, {records: []})
    })

    it('GET /v1/blocks and /v1/records validate the CID', async () => {
      assert.equal((await send(base, 'GET', '/v1/blocks/notacid')).status, 400)
      assert.equal((await send(base, 'GET', '/v1/blocks/bafkreie2pn5tuxkqpanu6r3izv6oeiywr5vujg3yvvvmlfg3k6emhoaf2e')).status, 404)
      assert.equal((await send(base, 'HEAD', '/v1/blocks/bafkreie2pn5tuxkqpanu6r3izv6oeiywr5vujg3yvvvmlfg3k6emhoaf2e')).status, 404)
      assert.equal((await send(base, 'GET', '/v1/records')).status, 400)
      assert.equal((await send(base, 'GET', '/v1/records?root=%00')).status, 400)
      const none = await send(base, 'GET', '/v1/records?root=bafkreie2pn5tuxkqpanu6r3izv6oeiywr5vujg3yvvvmlfg3k6emhoaf2e')
      assert.equal(none.status, 200)
      assert.deepEqual(none.json, {records: []})
    })

    it('POST /v1/objects (remote user writes): a malformed intent is 400; an untrusted owner without a stamp is 403 STAMP_REQUIRED with the bits', async () => {
      const user = newIdentity('user')
      const bad = Buffer.from('{"name":"x"}')
      const r1 = await send(base, 'POST', '/v1/objects', signed(user, 'POST', '/v1/objects', bad))
      assert.equal(r1.status, 400)
      const rec = signObjectRecord({root: cidOf(RAW_CODE, Buffer.from('remote write')), size: 12, name: 'x', mime: 'application/octet-stream', tags: [], time: Date.now()}, user)
      const body = Buffer.from(JSON.stringify({record: Buffer.from(rec.bytes).toString('base64')}))
      const r = await send(base, 'POST', '/v1/objects', signed(user, 'POST', '/v1/objects', body))
      assert.equal(r.status, 403)
      assert.equal(r.json.error.code, 'STAMP_REQUIRED')
      assert.equal(r.json.stampBits, 19)
      assert.match(r.json.error.message, new RegExp(user.did))
      // Signed by someone else than the record's owner: refused whatever the stamp.
      const other = newIdentity('other')
      const r2 = await send(base, 'POST', '/v1/objects', signed(other, 'POST', '/v1/objects', body))
      assert.equal(r2.status, 403)
      assert.equal(r2.json.error.code, 'NOT_OWNER')
    })

    it('POST /v1/objects + PUT upload: other bytes than the record names are refused and nothing is kept; an upload is used once; a stamp is spent once', async () => {
      const user = newIdentity('uploader')
      const data = Buffer.from('the bytes the record names')
      const root = cidOf(RAW_CODE, data)
      const rec = signObjectRecord({root, size: data.length, name: 'u', mime: 'application/octet-stream', tags: [], time: Date.now()}, user)
      const time = Date.now()
      const stamp = {...(await mintStamp(writeStampResource(user.did, root.toString()), time, 19)), time}
      const body = Buffer.from(JSON.stringify({record: Buffer.from(rec.bytes).toString('base64'), stamp}))
      const intent = await send(base, 'POST', '/v1/objects', signed(user, 'POST', '/v1/objects', body))
      assert.equal(intent.status, 200, intent.body.toString())
      assert.equal(intent.json.admittedBy, 'stamp')
      // Other bytes of the same length: refused, and neither they nor the record are kept.
      const other = Buffer.alloc(data.length, 7)
      const put = await send(base, 'PUT', intent.json.upload, {body: other, headers: {'content-type': 'application/octet-stream'}})
      assert.equal(put.status, 400)
      assert.equal(put.json.error.code, 'BAD_OBJECT')
      const has = await send(base, 'POST', '/v1/blocks/has', {body: JSON.stringify({cids: [root.toString(), cidOf(RAW_CODE, other).toString()]})})
      assert.deepEqual(has.json.have, [false, false])
      assert.deepEqual((await send(base, 'GET', `/v1/records?root=${root}`)).json, {records: []})
      // The upload was used once; the stamp cannot buy a second one.
      assert.equal((await send(base, 'PUT', intent.json.upload, {body: data})).status, 404)
      const again = await send(base, 'POST', '/v1/objects', signed(user, 'POST', '/v1/objects', body))
      assert.equal(again.status, 403)
      assert.match(again.json.error.message, /already spent/)
      // A body of another length than the record's is refused from its header.
      const time2 = Date.now()
      const stamp2 = {...(await mintStamp(writeStampResource(user.did, root.toString()), time2, 19)), time: time2}
      const body2 = Buffer.from(JSON.stringify({record: Buffer.from(rec.bytes).toString('base64'), stamp: stamp2}))
      const intent2 = await send(base, 'POST', '/v1/objects', signed(user, 'POST', '/v1/objects', body2))
      assert.equal(intent2.status, 200, intent2.body.toString())
      const long = await send(base, 'PUT', intent2.json.upload, {body: Buffer.concat([data, Buffer.from('!')])})
      assert.equal(long.status, 400)
      assert.equal(long.json.error.code, 'BAD_OBJECT')
    })

    it('`peers add` of something that is not a polar node fails clearly (exit 5), and adds nothing', async () => {
      const junk = createServer((req, res) => {
        req.resume()
        res.writeHead(200, {'content-type': 'application/json'})
        res.end(req.url === '/v1/hello' ? '{"hello": "world"}' : '{}')
      })
      servers.push(junk)
      await new Promise<void>((r) => junk.listen(0, '127.0.0.1', r))
      const url = `http://127.0.0.1:${(junk.address() as AddressInfo).port}`
      const before = (await localApi(node.socket, 'GET', '/api/v1/peers')).body.peers.length
      const r = await node.polar(['peers', 'add', url, '--json'])
      assert.equal(r.code, 5, r.stdout + r.stderr)
      assert.match(json(r).error.message, /not a polar node|did/)
      assert.equal((await localApi(node.socket, 'GET', '/api/v1/peers')).body.peers.length, before)
    })

    it('a registration with the node\'s own key and URL is ignored', async () => {
      // The node identity signs: e.g. a copy of its key elsewhere. It must not list itself.
      const self = new KeyStore(`${node.home}/node`).load('default')
      const r = await register(self, node.url)
      assert.ok(r.status === 200 || r.status === 400, String(r.status))
      const peers = (await send(base, 'GET', '/v1/peers')).json.peers
      assert.ok(!peers.some((p: any) => p.did === node.did))
    })

    it('is still alive and answering', async () => {
      await waitFor('hello', async () => (await send(base, 'GET', '/v1/hello')).json?.did === node.did, {timeoutMs: 5_000})
      assert.ok(node.running)
      assert.doesNotMatch(node.stderr(), /error on /, 'no unexpected (500) errors in the log')
      const r = await runPolar(['peers', '--node', base, '--json'], {home: cluster.home()})
      assert.equal(r.code, 0)
    })
  })
})
