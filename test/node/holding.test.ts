// A node stores only what it agreed to hold (issue 20 point 6), and says what
// went wrong when a fetch fails (point 9). Real nodes on 127.0.0.1 play the
// target; the hostile side is hand-made signed requests and small HTTP
// servers that serve a DAG built here, or the wrong bytes.
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import type {CID} from 'multiformats/cid'
import {buildFile} from '../../src/lib/content/index.js'
import {cidOf} from '../../src/lib/content/cid.js'
import {RAW_CODE} from '../../src/lib/content/constants.js'
import {generateSecretKey, identityFromSecret, type Identity} from '../../src/lib/identity/index.js'
import {mintStamp, writeStampResource} from '../../src/lib/records/stamp.js'
import {signObjectRecord} from '../../src/lib/records/index.js'
import {json, tmpHome} from '../helpers.js'
import {Cluster, hasBlocks, localApi, type NodeProcess} from './cluster.js'
import {register, signedPost} from './stranger.js'

const MiB = 1024 * 1024
const BITS = 4
const newIdentity = (name: string) => identityFromSecret(name, generateSecretKey())
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64')

async function dagOf(data: Uint8Array): Promise<{root: CID; blocks: Map<string, Uint8Array>}> {
  const blocks = new Map<string, Uint8Array>()
  const built = await buildFile((async function * () { yield data })(), {put: (cid, bytes) => { blocks.set(cid.toString(), bytes) }})
  return {root: built.cid, blocks}
}

/**
 * A stand-in peer: /v1/hello as `identity`, `has` says yes to everything,
 * GET /v1/blocks/{cid} serves `serve(cid)` (right or wrong bytes); the batch
 * and encoded routes are 404, so the node fetches block by block.
 */
async function standIn(identity: Identity, serve: (cid: string) => Uint8Array | undefined): Promise<{server: Server; url: string; asked: () => number}> {
  let asked = 0
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const url = req.url ?? ''
      if (url === '/v1/hello') return void res.end(JSON.stringify({did: identity.did, url: '', version: 1, services: 'polar/1'}))
      if (url === '/v1/blocks/has') {
        const {cids} = JSON.parse(Buffer.concat(chunks).toString() || '{"cids":[]}')
        return void res.end(JSON.stringify({have: cids.map(() => true)}))
      }
      const m = /^\/v1\/blocks\/([a-z0-9]+)$/.exec(url)
      const bytes = m ? serve(m[1]) : undefined
      if (bytes) {
        asked++
        res.writeHead(200, {'content-type': 'application/vnd.ipld.raw', 'content-length': bytes.length})
        return void res.end(bytes)
      }
      res.writeHead(404, {'content-type': 'application/json'})
      res.end('{"error":{"code":"NO_ROUTE","message":"stand-in"}}')
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {server, url: `http://127.0.0.1:${(server.address() as {port: number}).port}`, asked: () => asked}
}

const blocksHeld = async (node: NodeProcess) => (await localApi(node.socket, 'GET', '/api/v1/status')).body.blocks as {blocks: number; bytes: number; packs: number; packBytes: number}

describe('a node holds only objects it agreed to, up to their size', {timeout: 240_000}, () => {
  const cluster = new Cluster()
  const servers: Server[] = []
  let node: NodeProcess
  before(async () => {
    const home = cluster.home()
    writeFileSync(join(home, 'settings.json'), JSON.stringify({stampBits: BITS, writeStampBits: BITS, maxObjectBytes: 100 * MiB}))
    node = await cluster.start(home)
  })
  after(async () => {
    await cluster.stop()
    for (const s of servers) s.closeAllConnections()
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
  })

  /** POST /v1/objects for `record`, paid with a stamp (a new one unless given). */
  async function intent(user: Identity, record: {bytes: Uint8Array; record: {root: CID}}, stamp?: unknown, target = node) {
    const time = Date.now()
    stamp ??= {...(await mintStamp(writeStampResource(user.did, record.record.root.toString()), time, BITS)), time}
    return signedPost(target.url, '/v1/objects', {record: b64(record.bytes), stamp}, user, target.did)
  }

  it('a refused remote upload leaves no block behind, even past the 64 MiB the writer used to checkpoint at', async () => {
    // It used to: a stamped write whose bytes were refused (400 BAD_OBJECT) left 256 MiB of unreferenced blocks.
    const user = newIdentity('uploader')
    const size = 72 * MiB
    const data = randomBytes(size)
    const {root} = await dagOf(data)
    const rec = signObjectRecord({root, size, name: 'big', mime: 'application/octet-stream', tags: [], time: Date.now()}, user)
    const before = await blocksHeld(node)
    const admitted = await intent(user, rec)
    assert.equal(admitted.status, 200, admitted.text)
    data[size - 1] ^= 1 // other bytes of the same length: a different DAG
    const put = await fetch(node.url + admitted.body.upload, {method: 'PUT', body: data, headers: {'content-type': 'application/octet-stream'}, signal: AbortSignal.timeout(120_000)})
    assert.equal(put.status, 400, await put.clone().text())
    assert.equal(((await put.json()) as any).error.code, 'BAD_OBJECT')
    const afterwards = await blocksHeld(node)
    assert.equal(afterwards.blocks, before.blocks, `blocks left by the refused upload: ${JSON.stringify(afterwards)}`)
    assert.equal(afterwards.packBytes, before.packBytes, 'pack bytes of the refused upload are given back')
    assert.deepEqual(await hasBlocks(node.url, [root.toString()]), [false])
  })

  it('a record declaring more than maxObjectBytes, or more than the disk has free, is refused before its stamp is spent', async () => {
    const user = newIdentity('big-writer')
    const root = cidOf(RAW_CODE, randomBytes(32))
    const rec = signObjectRecord({root, size: 101 * MiB, name: 'x', mime: 'application/octet-stream', tags: [], time: Date.now()}, user)
    const time = Date.now()
    const stamp = {...(await mintStamp(writeStampResource(user.did, root.toString()), time, BITS)), time}
    const r = await intent(user, rec, stamp)
    assert.equal(r.status, 413, r.text)
    assert.equal(r.body.error.code, 'TOO_LARGE')
    assert.match(r.body.error.message, /maxObjectBytes/)
    // The stamp was not spent on the refusal: it still pays for a record this node takes.
    const smaller = signObjectRecord({root, size: 50 * MiB, name: 'x', mime: 'application/octet-stream', tags: [], time: Date.now()}, user)
    const ok = await intent(user, smaller, stamp)
    assert.equal(ok.status, 200, ok.text)
    // More than the disk holding the store has free (100 TB here), with no cap on size: 507 NO_SPACE.
    const home = cluster.home()
    writeFileSync(join(home, 'settings.json'), JSON.stringify({stampBits: BITS, writeStampBits: BITS, maxObjectBytes: 1e15}))
    const roomy = await cluster.start(home)
    const huge = signObjectRecord({root, size: 1e14, name: 'x', mime: 'application/octet-stream', tags: [], time: Date.now()}, user)
    const full = await intent(user, huge, undefined, roomy)
    assert.equal(full.status, 507, full.text)
    assert.equal(full.body.error.code, 'NO_SPACE')
    await roomy.stop()
    // A replication a peer asks for is capped the same way.
    const peer = newIdentity('asking-peer')
    const stub = await standIn(peer, () => undefined)
    servers.push(stub.server)
    assert.equal((await register(node.url, node.did, peer, stub.url, BITS)).status, 200)
    const rep = await signedPost(node.url, '/v1/replicate', {record: b64(rec.bytes)}, peer, node.did)
    assert.equal(rep.status, 413, rep.text)
    assert.equal(stub.asked(), 0, 'nothing was fetched')
  })

  it('a replication fetches no more than the record declares: a record that lies about its size is refused and its blocks removed', async () => {
    const peer = newIdentity('liar-peer')
    const {root, blocks} = await dagOf(randomBytes(8 * MiB))
    const stub = await standIn(peer, (cid) => blocks.get(cid))
    servers.push(stub.server)
    assert.equal((await register(node.url, node.did, peer, stub.url, BITS)).status, 200)
    const before = await blocksHeld(node)
    const owner = newIdentity('liar-owner')
    // The record says 1000 bytes; the DAG under its root holds 8 MiB.
    const rec = signObjectRecord({root, size: 1000, name: 'small?', mime: 'application/octet-stream', tags: [], time: Date.now()}, owner)
    const r = await signedPost(node.url, '/v1/replicate', {record: b64(rec.bytes)}, peer, node.did)
    assert.equal(r.status, 400, r.text)
    assert.equal(r.body.error.code, 'BAD_OBJECT')
    assert.match(r.body.error.message, /record says 1000 bytes/)
    assert.ok(stub.asked() <= 2, `fetched ${stub.asked()} blocks for a 1000-byte record`)
    assert.deepEqual((await blocksHeld(node)).blocks, before.blocks)
    assert.deepEqual((await (await fetch(`${node.url}/v1/records?root=${root}`)).json() as any).records, [])
    // The same DAG under an honest record is taken whole.
    const honest = signObjectRecord({root, size: 8 * MiB, name: 'honest', mime: 'application/octet-stream', tags: [], time: Date.now()}, owner)
    const ok = await signedPost(node.url, '/v1/replicate', {record: b64(honest.bytes)}, peer, node.did)
    assert.equal(ok.status, 200, ok.text)
    assert.equal(ok.body.held, true)
    await localApi(node.socket, 'DELETE', `/api/v1/peers/${peer.did}`)
  })

  it('a pull whose only holder serves wrong bytes says INTEGRITY and names the peer (exit 4), not "none has it"', async () => {
    const peer = newIdentity('wrong-bytes')
    const data = randomBytes(5000)
    const root = cidOf(RAW_CODE, data)
    const stub = await standIn(peer, (cid) => (cid === root.toString() ? randomBytes(5000) : undefined))
    servers.push(stub.server)
    // A node of its own, with the stand-in as its only peer.
    const home = cluster.home()
    writeFileSync(join(home, 'settings.json'), JSON.stringify({stampBits: BITS}))
    const puller = await cluster.start(home)
    assert.equal((await register(puller.url, puller.did, peer, stub.url, BITS)).status, 200)
    const r = await puller.polar(['pull', root.toString(), '-o', join(home, 'out.bin'), '--json'])
    assert.equal(r.code, 4, r.stdout.toString() + r.stderr)
    const err = json(r).error
    assert.equal(err.code, 'INTEGRITY')
    assert.match(err.message, new RegExp(`${peer.did} served bytes that do not hash to it`))
  })
})

describe('a fetch that cannot store what it fetched says NO_SPACE, not NOT_FOUND', () => {
  const {home, cleanup} = tmpHome()
  after(cleanup)

  it('a full disk while storing a fetched block ends the read with NO_SPACE', async () => {
    const {openStore} = await import('../../src/lib/store/store.js')
    const {PeerTable} = await import('../../src/lib/node/peer-table.js')
    const {NetworkBlockSource} = await import('../../src/lib/node/fetcher.js')
    const store = openStore(home)
    try {
      const data = randomBytes(1000)
      const cid = cidOf(RAW_CODE, data)
      // The peer has the block (right bytes); the disk the writer writes to is full.
      const client = {blocks: {get: async () => data}} as any
      const writer = {
        put: async () => { throw Object.assign(new Error('ENOSPC: no space left on device, write'), {code: 'ENOSPC', errno: -28}) },
        took: () => false,
      } as any
      const source = new NetworkBlockSource(store, [{did: 'did:key:z6MkPeer', client}], writer, new PeerTable(store.db, 'did:key:z6MkSelf'))
      await assert.rejects(source.get(cid), (e: any) => {
        assert.equal(e.code, 'NO_SPACE', `${e.code}: ${e.message}`)
        assert.match(e.message, /no space left/)
        return true
      })
    } finally {
      store.close()
    }
  })
})
