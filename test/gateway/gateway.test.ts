// The trustless gateway against third-party IPFS clients: Helia's trustless
// gateway block broker, ipfs-unixfs-exporter and @ipld/car read what a real
// node:http server with a real BlockStore serves.
import assert from 'node:assert/strict'
import {createHash, randomBytes} from 'node:crypto'
import {closeSync, openSync, readSync, writeFileSync, writeSync} from 'node:fs'
import {createServer, get as httpGet, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {setTimeout as sleep} from 'node:timers/promises'
import {trustlessGateway} from '@helia/block-brokers'
import {CarBlockIterator, CarReader} from '@ipld/car'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagPb from '@ipld/dag-pb'
import {defaultLogger} from '@libp2p/logger'
import {multiaddr} from '@multiformats/multiaddr'
import {exporter} from 'ipfs-unixfs-exporter'
import {importer} from 'ipfs-unixfs-importer'
import {UnixFS} from 'ipfs-unixfs'
import {CID} from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import {sha256} from 'multiformats/hashes/sha2'
import {DAG_CBOR_CODE, DAG_PB_CODE, RAW_CODE} from '../../src/lib/content/constants.js'
import {NotFoundError} from '../../src/lib/errors.js'
import {KeyStore} from '../../src/lib/identity/index.js'
import {handleGateway, type GatewayBlocks} from '../../src/lib/gateway/index.js'
import {pushObject} from '../../src/lib/objects/index.js'
import {openStore, type Store} from '../../src/lib/store/store.js'
import {tmpHome} from '../helpers.js'

const MiB = 1024 * 1024
const CAR_TYPE = 'application/vnd.ipld.car; version=1; order=dfs; dups=n'

/** A gateway on 127.0.0.1:0 that serves `blocks`; everything outside /ipfs/ is 404 from the "router". */
async function startGateway(blocks: GatewayBlocks, corrupt: CID[] = []): Promise<{server: Server; base: string; port: number}> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://gateway.invalid')
    handleGateway(req, res, url, {blocks, onCorruptBlock: (cid) => corrupt.push(cid)}).then((handled) => {
      if (!handled) {
        res.statusCode = 404
        res.end('not a gateway path\n')
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {server, base: `http://127.0.0.1:${port}`, port}
}

function stopServer(server: Server): Promise<void> {
  server.closeAllConnections()
  return new Promise((resolve) => server.close(() => resolve()))
}

async function hashesTo(cid: CID, bytes: Uint8Array): Promise<boolean> {
  if (cid.multihash.code === 0x00) return Buffer.compare(cid.multihash.digest, bytes) === 0
  assert.equal(cid.multihash.code, sha256.code)
  const digest = await sha256.digest(bytes)
  return Buffer.compare(digest.bytes, cid.multihash.bytes) === 0
}

/** Reads a whole CAR response with @ipld/car, checking every block against its CID. */
async function readCar(res: Response): Promise<{roots: CID[]; blocks: Array<{cid: CID; bytes: Uint8Array}>}> {
  assert.ok(res.body)
  const it = await CarBlockIterator.fromIterable(res.body as unknown as AsyncIterable<Uint8Array>)
  const roots = await it.getRoots()
  const blocks: Array<{cid: CID; bytes: Uint8Array}> = []
  for await (const block of it) {
    assert.ok(await hashesTo(block.cid, block.bytes), `block ${block.cid} in the CAR does not hash to its CID`)
    blocks.push({cid: block.cid, bytes: block.bytes})
  }
  return {roots, blocks}
}

/** Links of a block, as an independent reader sees them. */
function linksOf(cid: CID, bytes: Uint8Array): CID[] {
  if (cid.code === RAW_CODE) return []
  if (cid.code === DAG_PB_CODE) return dagPb.decode(bytes).Links.map((l) => l.Hash)
  if (cid.code === DAG_CBOR_CODE) {
    const out: CID[] = []
    const visit = (v: unknown): void => {
      const c = CID.asCID(v)
      if (c) out.push(c)
      else if (Array.isArray(v)) v.forEach(visit)
      else if (v && typeof v === 'object' && !(v instanceof Uint8Array)) Object.values(v).forEach(visit)
    }
    visit(dagCbor.decode(bytes))
    return out
  }
  throw new Error(`unexpected codec ${cid.code}`)
}

/** The depth-first, first-occurrence order of a DAG, computed recursively from the CAR's own blocks. */
function dfsOrder(root: CID, byCid: Map<string, Uint8Array>, dups: boolean): string[] {
  const out: string[] = []
  const seen = new Set<string>()
  const visit = (cid: CID): void => {
    const key = cid.toString()
    if (!dups && seen.has(key)) return
    seen.add(key)
    out.push(key)
    const bytes = byCid.get(key)
    assert.ok(bytes, `the CAR lacks block ${key}`)
    for (const link of linksOf(cid, bytes)) visit(link)
  }
  visit(root)
  return out
}

/** An ipfs-unixfs-exporter blockstore over a map of blocks. */
function mapBlockstore(byCid: Map<string, Uint8Array>) {
  return {
    async * get(cid: CID) {
      const bytes = byCid.get(cid.toString())
      if (!bytes) throw new Error(`block ${cid} was not in the CAR`)
      yield bytes
    },
  }
}

/** A GET with node:http, which (unlike fetch) sends no Accept header unless told to. */
function rawRequest(url: string): Promise<{status: number; body: string; accept: string | undefined}> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (body += d))
      res.on('end', () => resolve({status: res.statusCode ?? 0, body, accept: req.getHeader('accept') as string | undefined}))
    })
    req.on('error', reject)
  })
}

async function readAll(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const c of chunks) parts.push(c)
  return Buffer.concat(parts)
}

describe('IPFS trustless gateway', () => {
  const {home, cleanup} = tmpHome('polar-gateway-')
  let store: Store
  let server: Server
  let base: string
  let port: number
  const corrupt: CID[] = []
  const big = randomBytes(3.5 * MiB)
  const small = Buffer.from('hello trustless world\n')
  // Three identical 1 MiB chunks: one raw leaf linked three times.
  const zeros = Buffer.alloc(3 * MiB)
  const doomed = randomBytes(2 * MiB + 17)
  let bigCid: CID
  let smallCid: CID
  let zerosCid: CID
  let doomedCid: CID
  const missing = 'bafkreie2pn5tuxkqpanu6r3izv6oeiywr5vujg3yvvvmlfg3k6emhoaf2e'
  const get = (path: string, init?: RequestInit) => fetch(base + path, init)

  before(async () => {
    store = openStore(home)
    const identity = new KeyStore(home).loadOrCreate()
    const push = async (name: string, bytes: Uint8Array) => {
      const file = join(home, name)
      writeFileSync(file, bytes)
      return CID.parse((await pushObject(store, identity, {file})).cid)
    }
    bigCid = await push('big.bin', big)
    smallCid = await push('small.txt', small)
    zerosCid = await push('zeros.bin', zeros)
    doomedCid = await push('doomed.bin', doomed)
    ;({server, base, port} = await startGateway(store.blocks, corrupt))
  })

  after(async () => {
    if (server) await stopServer(server)
    store?.close()
    cleanup()
  })

  it('stores the multi-block file as a dag-pb root and the small one as a raw leaf', () => {
    assert.equal(bigCid.code, DAG_PB_CODE)
    assert.equal(smallCid.code, RAW_CODE)
  })

  it("serves raw blocks that Helia's trustless gateway broker fetches and ipfs-unixfs-exporter reassembles", async () => {
    const routing = {
      async * findProviders() {
        yield {id: undefined, multiaddrs: [multiaddr(`/ip4/127.0.0.1/tcp/${port}/http`)], routing: 'polar-test'}
      },
    }
    const broker = trustlessGateway({allowInsecure: true, allowLocal: true})({routing: routing as any, logger: defaultLogger()})
    const fetched = new Set<string>()
    const blockstore = {
      async * get(cid: CID) {
        const bytes = await broker.retrieve!(cid, {
          validateFn: async (b: Uint8Array) => {
            if (!(await hashesTo(cid, b))) throw new Error(`gateway sent a wrong block for ${cid}`)
          },
        })
        fetched.add(cid.toString())
        yield bytes
      },
    }
    const entry = await exporter(bigCid, blockstore)
    assert.equal(entry.type, 'file')
    const content = await readAll(entry.content())
    assert.equal(Buffer.compare(content, big), 0)
    assert.equal(fetched.size, 5) // root + 4 leaves of at most 1 MiB

    const smallEntry = await exporter(smallCid, blockstore)
    assert.equal(Buffer.compare(await readAll(smallEntry.content()), small), 0)
  })

  it('answers ?format=raw with the block and the headers the spec requires', async () => {
    const res = await get(`/ipfs/${smallCid}?format=raw`)
    assert.equal(res.status, 200)
    const body = Buffer.from(await res.arrayBuffer())
    assert.equal(Buffer.compare(body, small), 0)
    assert.equal(res.headers.get('content-type'), 'application/vnd.ipld.raw')
    assert.equal(res.headers.get('content-length'), String(small.length))
    assert.equal(res.headers.get('content-disposition'), `attachment; filename="${smallCid}.bin"`)
    assert.equal(res.headers.get('etag'), `"${smallCid}.raw"`)
    assert.equal(res.headers.get('cache-control'), 'public, max-age=29030400, immutable')
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff')
    assert.equal(res.headers.get('x-ipfs-path'), `/ipfs/${smallCid}`)
    assert.equal(res.headers.get('x-ipfs-roots'), smallCid.toString())
    assert.equal(res.headers.get('vary'), 'Accept')
    assert.equal(res.headers.get('content-location'), null)
  })

  it('negotiates by Accept alone and names the format in Content-Location', async () => {
    const res = await get(`/ipfs/${bigCid}`, {headers: {Accept: 'text/html;q=0.9, application/vnd.ipld.raw'}})
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'application/vnd.ipld.raw')
    assert.equal(res.headers.get('content-location'), `/ipfs/${bigCid}?format=raw`)
    assert.ok(await hashesTo(bigCid, new Uint8Array(await res.arrayBuffer())))

    const car = await get(`/ipfs/${smallCid}`, {headers: {Accept: 'application/vnd.ipld.car; version=1; dups=y'}})
    assert.equal(car.status, 200)
    assert.equal(car.headers.get('content-type'), 'application/vnd.ipld.car; version=1; order=dfs; dups=y')
    assert.equal(car.headers.get('content-location'), `/ipfs/${smallCid}?format=car&car-dups=y`)
    await car.arrayBuffer()
  })

  it('lets ?format win over Accept', async () => {
    const res = await get(`/ipfs/${smallCid}?format=raw`, {headers: {Accept: 'application/vnd.ipld.car'}})
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'application/vnd.ipld.raw')
    await res.arrayBuffer()
  })

  it('streams a CAR of the whole DAG in dfs order that @ipld/car reads and the exporter reassembles', async () => {
    const res = await get(`/ipfs/${bigCid}?format=car`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), CAR_TYPE)
    assert.equal(res.headers.get('content-disposition'), `attachment; filename="${bigCid}.car"`)
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff')
    assert.equal(res.headers.get('cache-control'), 'public, max-age=29030400, immutable')
    assert.match(res.headers.get('etag') ?? '', new RegExp(`^"${bigCid}\\.car\\.`))
    assert.equal(res.headers.get('content-length'), null)
    const {roots, blocks} = await readCar(res)
    assert.deepEqual(roots.map(String), [bigCid.toString()])
    const byCid = new Map(blocks.map((b) => [b.cid.toString(), b.bytes]))
    assert.equal(byCid.size, blocks.length, 'dups=n: no block twice')
    assert.deepEqual(blocks.map((b) => b.cid.toString()), dfsOrder(bigCid, byCid, false))
    assert.equal(blocks.length, 5)
    const entry = await exporter(bigCid, mapBlockstore(byCid))
    assert.equal(Buffer.compare(await readAll(entry.content()), big), 0)
  })

  it('reads the same CAR with CarReader', async () => {
    const res = await get(`/ipfs/${bigCid}?format=car`)
    const reader = await CarReader.fromBytes(new Uint8Array(await res.arrayBuffer()))
    assert.deepEqual((await reader.getRoots()).map(String), [bigCid.toString()])
    for await (const {cid, bytes} of reader.blocks()) assert.ok(await hashesTo(cid, bytes))
    assert.ok(await reader.has(bigCid))
  })

  it('sends a repeated block once with dups=n and every time with dups=y', async () => {
    const n = await readCar(await get(`/ipfs/${zerosCid}?format=car`))
    assert.equal(n.blocks.length, 2)
    const y = await get(`/ipfs/${zerosCid}?format=car&car-dups=y`)
    assert.equal(y.headers.get('content-type'), 'application/vnd.ipld.car; version=1; order=dfs; dups=y')
    const yb = await readCar(y)
    assert.equal(yb.blocks.length, 4)
    const byCid = new Map(yb.blocks.map((b) => [b.cid.toString(), b.bytes]))
    assert.deepEqual(yb.blocks.map((b) => b.cid.toString()), dfsOrder(zerosCid, byCid, true))
    const viaAccept = await readCar(await get(`/ipfs/${zerosCid}`, {headers: {Accept: 'application/vnd.ipld.car;dups=y'}}))
    assert.equal(viaAccept.blocks.length, 4)
  })

  it('supports dag-scope=block and dag-scope=entity', async () => {
    const block = await readCar(await get(`/ipfs/${bigCid}?format=car&dag-scope=block`))
    assert.deepEqual(block.blocks.map((b) => b.cid.toString()), [bigCid.toString()])
    const entity = await readCar(await get(`/ipfs/${bigCid}?format=car&dag-scope=entity`))
    assert.equal(entity.blocks.length, 5)
    const res = await get(`/ipfs/${bigCid}?format=car&dag-scope=entity`)
    assert.notEqual(res.headers.get('etag'), (await get(`/ipfs/${bigCid}?format=car&dag-scope=block`)).headers.get('etag'))
    await res.arrayBuffer()
    assert.equal((await get(`/ipfs/${bigCid}?format=car&dag-scope=nope`)).status, 400)
  })

  it('sends only the blocks an entity-bytes range needs, enough for the exporter to read that range', async () => {
    const cases: Array<[string, number, number, number]> = [
      // entity-bytes, first byte, last byte, blocks expected (root + leaves)
      ['0:99', 0, 99, 2],
      [`${MiB - 1}:${MiB}`, MiB - 1, MiB, 3],
      ['-100:*', big.length - 100, big.length - 1, 2],
      [`${2 * MiB}:-1`, 2 * MiB, big.length - 2, 3],
      ['0:*', 0, big.length - 1, 5],
      [`-${10 * MiB}:${10 * MiB}`, 0, big.length - 1, 5],
    ]
    for (const [range, from, to, count] of cases) {
      const res = await get(`/ipfs/${bigCid}?format=car&entity-bytes=${range}`)
      assert.equal(res.status, 200, range)
      const {blocks} = await readCar(res)
      assert.equal(blocks.length, count, range)
      assert.equal(blocks[0].cid.toString(), bigCid.toString())
      const entry = await exporter(bigCid, mapBlockstore(new Map(blocks.map((b) => [b.cid.toString(), b.bytes]))))
      const part = await readAll(entry.content({offset: from, length: to - from + 1}))
      assert.equal(Buffer.compare(part, big.subarray(from, to + 1)), 0, range)
    }
    // Resolves to nothing: the root block alone, like dag-scope=block.
    const empty = await readCar(await get(`/ipfs/${bigCid}?format=car&entity-bytes=0:-${10 * MiB}`))
    assert.equal(empty.blocks.length, 1)
    // Starts past the end (known up front) or malformed: 400.
    assert.equal((await get(`/ipfs/${bigCid}?format=car&entity-bytes=${10 * MiB}:*`)).status, 400)
    assert.equal((await get(`/ipfs/${bigCid}?format=car&entity-bytes=5:2`)).status, 400)
    assert.equal((await get(`/ipfs/${bigCid}?format=car&entity-bytes=a:b`)).status, 400)
    assert.equal((await get(`/ipfs/${bigCid}?format=car&entity-bytes=0:9&dag-scope=all`)).status, 400)
  })

  it('walks dag-cbor blocks through the CIDs they hold, and identity blocks through theirs without sending them', async () => {
    const record = dagCbor.encode({name: 'both', file: bigCid, more: [smallCid, {again: smallCid}]})
    const recordCid = CID.createV1(DAG_CBOR_CODE, await sha256.digest(record))
    const writer = store.blocks.writer()
    await writer.put(recordCid, record)
    await writer.close()
    const {blocks} = await readCar(await get(`/ipfs/${recordCid}?format=car`))
    const byCid = new Map(blocks.map((b) => [b.cid.toString(), b.bytes]))
    assert.deepEqual(blocks.map((b) => b.cid.toString()), dfsOrder(recordCid, byCid, false))
    assert.equal(blocks.length, 1 + 5 + 1)
    // entity of a non-UnixFS block is the block itself.
    assert.equal((await readCar(await get(`/ipfs/${recordCid}?format=car&dag-scope=entity`))).blocks.length, 1)

    const inline = dagCbor.encode({link: smallCid})
    const inlineCid = CID.createV1(DAG_CBOR_CODE, Digest.create(0x00, inline))
    const viaInline = await readCar(await get(`/ipfs/${inlineCid}?format=car`))
    assert.deepEqual(viaInline.roots.map(String), [inlineCid.toString()])
    assert.deepEqual(viaInline.blocks.map((b) => b.cid.toString()), [smallCid.toString()])
  })

  it('answers 400 for a root whose links cannot be read, but still serves its block', async () => {
    const garbage = CID.createV1(DAG_PB_CODE, Digest.create(0x00, new Uint8Array([0xff, 0x01, 0x02])))
    const res = await get(`/ipfs/${garbage}?format=car`)
    assert.equal(res.status, 400)
    assert.match(await res.text(), /dag-scope=block/)
    assert.equal((await readCar(await get(`/ipfs/${garbage}?format=car&dag-scope=block`))).blocks.length, 0)
    const raw = await get(`/ipfs/${garbage}?format=raw`)
    assert.equal(raw.status, 200)
    assert.deepEqual(new Uint8Array(await raw.arrayBuffer()), new Uint8Array([0xff, 0x01, 0x02]))
    // A codec whose links this gateway cannot read (dag-json) cannot be walked.
    const dagJson = CID.createV1(0x0129, Digest.create(0x00, new TextEncoder().encode('{}')))
    assert.equal((await get(`/ipfs/${dagJson}?format=car`)).status, 400)
  })

  it('gives a directory as its own block and a sharded directory as its shards for dag-scope=entity', async () => {
    const importBlocks = new Map<string, Uint8Array>()
    const sink = {put: async (cid: CID, bytes: Uint8Array) => { importBlocks.set(cid.toString(), bytes); return cid }}
    const entries = (n: number) => Array.from({length: n}, (_, i) => ({path: `d/f${i}.txt`, content: new TextEncoder().encode(`file ${i}\n`)}))
    const importDir = async (n: number, shard: boolean): Promise<CID> => {
      let root: CID | undefined
      for await (const e of importer(entries(n), sink as any, {cidVersion: 1, rawLeaves: true, shardSplitThresholdBytes: shard ? 1 : 1e9})) {
        if (e.path === 'd') root = e.cid
      }
      return root!
    }
    const plain = await importDir(3, false)
    const sharded = await importDir(600, true)
    const writer = store.blocks.writer()
    for (const [key, bytes] of importBlocks) await writer.put(CID.parse(key), bytes)
    await writer.close()

    const typeOf = (bytes: Uint8Array) => UnixFS.unmarshal(dagPb.decode(bytes).Data!).type
    const plainEntity = await readCar(await get(`/ipfs/${plain}?format=car&dag-scope=entity`))
    assert.deepEqual(plainEntity.blocks.map((b) => b.cid.toString()), [plain.toString()])
    assert.equal((await readCar(await get(`/ipfs/${plain}?format=car`))).blocks.length, 4)

    const all = await readCar(await get(`/ipfs/${sharded}?format=car`))
    const shards = all.blocks.filter((b) => b.cid.code === DAG_PB_CODE && typeOf(b.bytes) === 'hamt-sharded-directory')
    assert.ok(shards.length > 1, 'the big directory has sub-shards')
    const entity = await readCar(await get(`/ipfs/${sharded}?format=car&dag-scope=entity`))
    assert.equal(entity.blocks[0].cid.toString(), sharded.toString())
    assert.deepEqual(entity.blocks.map((b) => b.cid.toString()).sort(), shards.map((b) => b.cid.toString()).sort())
    // entity-bytes means nothing for a directory: it is dag-scope=entity.
    assert.equal((await readCar(await get(`/ipfs/${sharded}?format=car&entity-bytes=0:10`))).blocks.length, shards.length)
  })

  it('answers HEAD with the headers and no body', async () => {
    const raw = await get(`/ipfs/${bigCid}?format=raw`, {method: 'HEAD'})
    assert.equal(raw.status, 200)
    assert.equal(raw.headers.get('content-type'), 'application/vnd.ipld.raw')
    const rootLength = Number(raw.headers.get('content-length'))
    assert.ok(rootLength > 0 && rootLength < 1000)
    assert.equal((await raw.arrayBuffer()).byteLength, 0)
    const car = await get(`/ipfs/${bigCid}?format=car`, {method: 'HEAD'})
    assert.equal(car.status, 200)
    assert.equal(car.headers.get('content-type'), CAR_TYPE)
    assert.equal((await car.arrayBuffer()).byteLength, 0)
    assert.equal((await get(`/ipfs/${missing}?format=raw`, {method: 'HEAD'})).status, 404)
  })

  it('answers the bafkqaaa probe: empty raw block, CAR rooted at it', async () => {
    const raw = await get('/ipfs/bafkqaaa?format=raw')
    assert.equal(raw.status, 200)
    assert.equal((await raw.arrayBuffer()).byteLength, 0)
    assert.equal(raw.headers.get('content-length'), '0')
    const accept = await get('/ipfs/bafkqaaa', {headers: {Accept: 'application/vnd.ipld.raw'}})
    assert.equal(accept.status, 200)
    assert.equal((await accept.arrayBuffer()).byteLength, 0)
    assert.equal((await get('/ipfs/bafkqaaa?format=raw', {method: 'HEAD'})).status, 200)
    const car = await get('/ipfs/bafkqaaa?format=car')
    assert.equal(car.status, 200)
    const {roots, blocks} = await readCar(car)
    assert.deepEqual(roots.map(String), ['bafkqaaa'])
    assert.equal(blocks.length, 0, 'identity blocks are never sent in a CAR')
  })

  it('serves other identity CIDs from the CID itself, never from the store', async () => {
    const bytes = new TextEncoder().encode('inline')
    const cid = CID.createV1(RAW_CODE, Digest.create(0x00, bytes))
    const res = await get(`/ipfs/${cid}?format=raw`)
    assert.equal(res.status, 200)
    assert.equal(Buffer.from(await res.arrayBuffer()).toString(), 'inline')
  })

  it('refuses a request that asks for no trustless format: 400 without Accept, 406 with another type', async () => {
    // fetch always sends Accept: */*; node:http sends no Accept at all.
    const none = await rawRequest(`${base}/ipfs/${smallCid}`)
    assert.equal(none.status, 400)
    assert.equal(none.accept, undefined)
    assert.match(none.body, /format=raw/)
    assert.equal((await get(`/ipfs/${smallCid}`)).status, 400)
    assert.equal((await get(`/ipfs/${smallCid}`, {headers: {Accept: '*/*'}})).status, 400)
    assert.equal((await get(`/ipfs/${smallCid}`, {headers: {Accept: 'text/html'}})).status, 406)
    assert.equal((await get(`/ipfs/${smallCid}`, {headers: {Accept: 'text/html, */*;q=0.8'}})).status, 406)
    assert.equal((await get(`/ipfs/${smallCid}`, {headers: {Accept: 'application/vnd.ipld.car; version=2'}})).status, 406)
    assert.equal((await get(`/ipfs/${smallCid}`, {headers: {Accept: 'application/vnd.ipld.raw;q=0'}})).status, 406)
    assert.equal((await get(`/ipfs/${smallCid}?format=tar`)).status, 406)
    assert.equal((await get(`/ipfs/${smallCid}?format=zip`)).status, 400)
    assert.equal((await get(`/ipfs/${smallCid}?format=car&car-version=2`)).status, 400)
    assert.equal((await get(`/ipfs/${smallCid}?format=car&car-order=weird`)).status, 400)
  })

  it('answers 400 for a malformed CID', async () => {
    for (const path of ['/ipfs/notacid?format=raw', '/ipfs/bafy%ZZ?format=raw', '/ipfs/?format=raw', '/ipfs?format=raw', '/ipfs/bafkreie2pn5tuxk?format=car']) {
      const res = await get(path)
      assert.equal(res.status, 400, path)
      assert.equal(res.headers.get('cache-control'), 'no-store')
      const body = await res.text()
      // Says what a CID looks like, not the multibase library's "decoder must be provided" (issue 19).
      if (path.includes('notacid') || path.includes('tuxk')) assert.match(body, /a CID looks like bafy/, body)
      assert.doesNotMatch(body, /multibase|decoder/, body)
    }
  })

  it('answers 404 for a block this node does not hold, for raw and CAR', async () => {
    for (const format of ['raw', 'car']) {
      const res = await get(`/ipfs/${missing}?format=${format}`)
      assert.equal(res.status, 404)
      assert.equal(res.headers.get('cache-control'), 'no-store')
      await res.arrayBuffer()
    }
    // A hash polar does not store (sha2-512) is simply not here.
    const other = CID.createV1(RAW_CODE, Digest.create(0x13, new Uint8Array(64)))
    assert.equal((await get(`/ipfs/${other}?format=raw`)).status, 404)
  })

  it('answers 412 for only-if-cached when the block is not here', async () => {
    assert.equal((await get(`/ipfs/${missing}?format=raw`, {headers: {'Cache-Control': 'only-if-cached'}})).status, 412)
    const here = await get(`/ipfs/${smallCid}?format=raw`, {headers: {'Cache-Control': 'only-if-cached'}})
    assert.equal(here.status, 200)
    await here.arrayBuffer()
  })

  it('answers 304 when If-None-Match carries the Etag', async () => {
    const first = await get(`/ipfs/${smallCid}?format=raw`)
    const etag = first.headers.get('etag')!
    await first.arrayBuffer()
    const again = await get(`/ipfs/${smallCid}?format=raw`, {headers: {'If-None-Match': `"other", ${etag}`}})
    assert.equal(again.status, 304)
    assert.equal(again.headers.get('etag'), etag)
  })

  it('answers 405 with Allow for methods other than GET and HEAD', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const res = await get(`/ipfs/${smallCid}?format=raw`, {method})
      assert.equal(res.status, 405, method)
      assert.equal(res.headers.get('allow'), 'GET, HEAD')
      await res.arrayBuffer()
    }
  })

  it('does no path resolution: 400 for a raw block with a path, 501 for a CAR with one', async () => {
    assert.equal((await get(`/ipfs/${bigCid}/a/b?format=raw`)).status, 400)
    assert.equal((await get(`/ipfs/${bigCid}/a/b?format=car`)).status, 501)
    // A trailing slash is no path.
    const slash = await get(`/ipfs/${smallCid}/?format=raw`)
    assert.equal(slash.status, 200)
    await slash.arrayBuffer()
  })

  it('leaves paths outside /ipfs/ to the caller', async () => {
    const res = await get('/v1/blocks')
    assert.equal(res.status, 404)
    assert.equal(await res.text(), 'not a gateway path\n')
    assert.equal((await get('/ipfsx/abc')).status, 404)
  })

  it('sets the filename from ?filename, with an RFC 8187 form for non-ASCII names', async () => {
    const res = await get(`/ipfs/${smallCid}?format=raw&filename=${encodeURIComponent('tést "x".bin')}`)
    assert.equal(res.headers.get('content-disposition'), `attachment; filename="t_st _x_.bin"; filename*=UTF-8''t%C3%A9st%20%22x%22.bin`)
    await res.arrayBuffer()
  })

  it('never serves a block that fails verification, reports it, and cuts a CAR that reaches it', async () => {
    const root = dagPb.decode(new Uint8Array(await (await get(`/ipfs/${doomedCid}?format=raw`)).arrayBuffer()))
    const leaf = root.Links[1].Hash
    const loc = store.db.prepare('SELECT pack, offset FROM blocks WHERE cid = ?').get(leaf.bytes) as {pack: number; offset: number}
    const fd = openSync(store.blocks.packPath(loc.pack), 'r+')
    const b = Buffer.alloc(1)
    readSync(fd, b, 0, 1, loc.offset + 100)
    b[0] ^= 0xff
    writeSync(fd, b, 0, 1, loc.offset + 100)
    closeSync(fd)

    corrupt.length = 0
    const raw = await get(`/ipfs/${leaf}?format=raw`)
    assert.equal(raw.status, 404)
    assert.match(await raw.text(), /failed verification/)
    assert.deepEqual(corrupt.map(String), [leaf.toString()])

    // The CAR starts (the root is fine), then stops short of the bad block.
    const car = await get(`/ipfs/${doomedCid}?format=car`)
    assert.equal(car.status, 200)
    const it = await CarBlockIterator.fromIterable(car.body as unknown as AsyncIterable<Uint8Array>)
    const got: string[] = []
    await assert.rejects(async () => {
      for await (const block of it) {
        assert.ok(await hashesTo(block.cid, block.bytes))
        got.push(block.cid.toString())
      }
    })
    // Whatever arrived before the cut is a prefix of the dfs order, and never the bad block.
    assert.deepEqual(got, [doomedCid.toString(), root.Links[0].Hash.toString()].slice(0, got.length))
    assert.equal(corrupt.length, 2)

    // The rest of the store is unaffected.
    const ok = await get(`/ipfs/${root.Links[0].Hash}?format=raw`)
    assert.equal(ok.status, 200)
    await ok.arrayBuffer()
  })
})

describe('IPFS trustless gateway with a 1 GiB DAG', () => {
  const LEAVES = 1024
  const leafBytes = (i: number) => {
    const b = Buffer.alloc(MiB, i & 0xff)
    b.writeUInt32BE(i, 0)
    return b
  }
  const leafCids: CID[] = []
  const index = new Map<string, number>()
  let rootCid: CID
  let rootBytes: Uint8Array
  let fetched = 0
  let server: Server
  let base: string

  before(async () => {
    for (let i = 0; i < LEAVES; i++) {
      const cid = CID.createV1(RAW_CODE, Digest.create(0x12, createHash('sha256').update(leafBytes(i)).digest()))
      leafCids.push(cid)
      index.set(cid.toString(), i)
    }
    const data = new UnixFS({type: 'file', blockSizes: leafCids.map(() => BigInt(MiB))})
    rootBytes = dagPb.encode(dagPb.prepare({Data: data.marshal(), Links: leafCids.map((c) => ({Hash: c, Tsize: MiB}))}))
    rootCid = CID.createV1(DAG_PB_CODE, Digest.create(0x12, createHash('sha256').update(rootBytes).digest()))
    // Blocks made on demand: the store itself holds nothing, so memory use is the gateway's.
    const blocks: GatewayBlocks = {
      has: (cid) => cid.equals(rootCid) || index.has(cid.toString()),
      get: (cid) => {
        if (cid.equals(rootCid)) return rootBytes
        const i = index.get(cid.toString())
        if (i === undefined) throw new NotFoundError(`no ${cid}`)
        fetched++
        return leafBytes(i)
      },
    }
    ;({server, base} = await startGateway(blocks))
  })

  after(async () => {
    if (server) await stopServer(server)
  })

  it('streams it to a slow reader without reading far ahead of what the reader took', async () => {
    const res = await fetch(`${base}/ipfs/${rootCid}?format=car`)
    assert.equal(res.status, 200)
    const it = await CarBlockIterator.fromIterable(res.body as unknown as AsyncIterable<Uint8Array>)
    let received = 0
    let bytes = 0
    let maxLead = 0
    const rssStart = process.memoryUsage().rss
    let rssMax = rssStart
    for await (const block of it) {
      if (received > 0) {
        assert.equal(block.cid.toString(), leafCids[received - 1].toString(), 'dfs order')
        assert.ok(await hashesTo(block.cid, block.bytes))
        bytes += block.bytes.length
        maxLead = Math.max(maxLead, fetched - received)
        // A slow reader for the first stretch: the gateway must wait for it.
        if (received < 64) await sleep(5)
      }
      received++
      if (received % 64 === 0) rssMax = Math.max(rssMax, process.memoryUsage().rss)
    }
    assert.equal(received, LEAVES + 1)
    assert.equal(bytes, LEAVES * MiB)
    // Loopback socket buffers hold a few MiB; the gateway itself holds about one block.
    assert.ok(maxLead <= 16, `the gateway read ${maxLead} blocks ahead of the reader`)
    assert.ok(rssMax - rssStart < 256 * MiB, `memory grew by ${Math.round((rssMax - rssStart) / MiB)} MiB while streaming 1 GiB`)
  })
})
