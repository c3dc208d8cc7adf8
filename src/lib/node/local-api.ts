import {parseSeedUrls} from '../net/address.js'
import type {ServerResponse} from 'node:http'
import {NETWORK_WRITER} from '../store/block-store.js'
import {releaseBlock} from '../util/block-pool.js'
import {isAbsolute} from 'node:path'
import {assertSupportedCid, parseCid} from '../content/cid.js'
import {readFile} from '../content/reader.js'
import {InputError, NetworkError, NotFoundError} from '../errors.js'
import {KeyStore, DEFAULT_KEY_NAME} from '../identity/index.js'
import {HttpError, readJson, Router, sendJson, statusOf} from '../net/http.js'
import {pushObject, writeChunks} from '../objects/index.js'
import type {NodeContext} from './context.js'

/** What the local API (the unix socket) uses of the node. */
export type LocalApiComponents = Pick<NodeContext, 'client' | 'discovery' | 'home' | 'identity' | 'limits' | 'log' | 'peers' | 'reping' | 'settings' | 'sources' | 'store' | 'track' | 'url' | 'did'>
import {locateHolders, NETWORK_PREFETCH} from './fetcher.js'
import {placeReplicas, setReplicaTarget} from './replicator.js'
import {localSearchTrustRoutes} from './trust-search-api.js'
import {DynamicBlockSource} from './dynamic-source.js'
import {assertNotErased, eraseThroughNode, notePulledCopy} from './erase-sync.js'

export const ERROR_TRAILER = 'x-polar-error'

function intParam(url: URL, name: string, fallback: number, min: number, max: number): number {
  const v = url.searchParams.get(name)
  if (v === null) return fallback
  const n = Number(v)
  if (!Number.isInteger(n) || n < min || n > max) throw new InputError(`--${name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} must be an integer from ${min} to ${max}`)
  return n
}

/**
 * The local REST API on POLAR_HOME/polar.sock (mode 0600: only this unix
 * user). CLI commands use it when a node runs; so can local services
 * (DESIGN.md "Processes", Polar draft "Local socket"). docs/protocol.md lists the routes.
 */
export function localRouter(ctx: LocalApiComponents, info: () => {socket: string}): Router {
  const router = new Router()

  router.on('GET', /^\/api\/v1\/status$/, (_req, res) => {
    sendJson(res, 200, {did: ctx.identity.did, url: ctx.url, socket: info().socket, peers: ctx.peers.live().length, blocks: ctx.store.blocks.stats(), settings: ctx.settings, limits: ctx.limits?.(), memory: process.memoryUsage()})
  })

  router.on('POST', /^\/api\/v1\/push$/, async (req, res, _p, url) => {
    const q = url.searchParams
    const replicas = intParam(url, 'replicas', ctx.settings.replicas, 1, 64)
    const minReplicas = intParam(url, 'minReplicas', ctx.settings.minReplicas, 0, 64)
    if (minReplicas > replicas) throw new InputError(`--min-replicas ${minReplicas} is more than --replicas ${replicas}: such a push could never succeed`)
    const path = q.get('path')
    if (path !== null && !isAbsolute(path)) throw new InputError('path must be absolute')
    const identity = new KeyStore(ctx.home).loadOrCreate(q.get('key') ?? DEFAULT_KEY_NAME)
    const result = await ctx.track(pushObject(ctx.store, identity, {
      file: path ?? '-',
      stream: path === null ? req : undefined,
      name: q.get('name') ?? undefined,
      tags: q.getAll('tag'),
      mime: q.get('mime') ?? undefined,
      base: q.get('base') ?? undefined,
    }))
    setReplicaTarget(ctx, result.cid, replicas)
    const record = ctx.store.records.bytesOf(result.record)!
    const placement = await placeReplicas(ctx, record, replicas)
    const body = {...result, replicas: placement.replicas, nodes: placement.nodes}
    if (placement.replicas < minReplicas) {
      sendJson(res, 503, {error: {code: 'TOO_FEW_REPLICAS', message: `only ${placement.replicas} node(s) hold ${result.cid}, fewer than --min-replicas ${minReplicas}; it is stored here and the node keeps placing it`}, result: body})
      return
    }
    sendJson(res, 200, body)
  })

  // Any segment: parseCid answers a malformed CID with 400 (exit 2), as the embedded store does.
  router.on('GET', /^\/api\/v1\/pull\/([^/]{1,512})$/, async (req, res, [text], url) => {
    let decoded: string
    try {
      decoded = decodeURIComponent(text)
    } catch {
      decoded = text
    }
    const root = parseCid(decoded)
    assertSupportedCid(root)
    const out = url.searchParams.get('out')
    if (out !== null && !isAbsolute(out)) throw new InputError('out must be an absolute path')
    // Refused only when every record of the root known here and on the peers is erased (issue 20).
    await assertNotErased(ctx, root)
    let sources = ctx.sources()
    const local = ctx.store.blocks.has(root)
    let located = local ? {holders: sources, others: [], answered: sources.length} : await locateHolders(root, sources)
    if (!local && located.holders.length === 0 && (await ctx.reping?.())) {
      // Peers given up on answered again (a healed partition, a restart): ask them too.
      sources = ctx.sources()
      located = await locateHolders(root, sources)
    }
    if (!local && located.holders.length === 0 && located.answered === 0 && ctx.peers.list().length > 0) {
      // Nobody could say either way: a network failure (exit 5), not "no such object" (exit 3).
      throw new NetworkError(`no object ${root} on this node, and none of its ${ctx.peers.list().length} known peer(s) answered; is the network up? see \`polar peers\``)
    }
    if (!local && located.holders.length === 0) {
      throw new NotFoundError(`no object ${root} on this node or its ${sources.length} peer(s); check the CID, or add a peer that holds it (polar peers add URL)`)
    }
    // A pulled copy (no record here): an erase of another root never takes from it (issue 20).
    if (!local) notePulledCopy(ctx, root)
    const writer = ctx.store.blocks.writer(NETWORK_WRITER)
    const source = new DynamicBlockSource(ctx.store, [...located.holders, ...located.others], writer, ctx.peers, ctx.log, root)
    source.batching = true
    const abort = new AbortController()
    res.on('close', () => abort.abort())
    try {
      const chunks = readFile(root, source, {prefetch: NETWORK_PREFETCH, signal: abort.signal})
      if (out !== null) {
        const result = await writeChunks(root.toString(), chunks, {output: out, signal: abort.signal})
        await source.finish()
        sendJson(res, 200, result)
        return
      }
      if (await streamChunks(res, chunks)) await source.finish()
    } finally {
      await writer.close().catch((err) => ctx.log(`could not keep fetched blocks: ${(err as Error).message}`))
      if (source.healed) ctx.log(`healed ${source.healed} corrupt block(s) of ${root} from peers`)
    }
  })

  router.on('POST', /^\/api\/v1\/erase$/, async (req, res) => {
    const {value} = await readJson(req, (v) => {
      if (typeof v?.cid !== 'string' || v.cid.length > 512) throw new Error('expected {"cid": string, "key"?: string}')
      if (v.key !== undefined && typeof v.key !== 'string') throw new Error('key must be a string')
      return {cid: v.cid as string, key: (v.key ?? DEFAULT_KEY_NAME) as string}
    })
    const identity = new KeyStore(ctx.home).load(value.key)
    sendJson(res, 200, await eraseThroughNode(ctx, value.cid, identity))
  })

  router.on('GET', /^\/api\/v1\/peers$/, (_req, res) => {
    sendJson(res, 200, {peers: ctx.peers.list()})
  })

  router.on('POST', /^\/api\/v1\/peers$/, async (req, res) => {
    const {value} = await readJson(req, (v) => {
      if (typeof v?.url !== 'string') throw new Error('expected {"url": "http://host:port"}')
      return v.url as string
    })
    const client = ctx.client({url: value})
    const started = Date.now()
    let hello
    try {
      hello = await client.hello({timeoutMs: 10_000})
    } catch (err) {
      throw new NetworkError(`could not reach ${value}: ${(err as Error).message}`)
    }
    if (hello.did === ctx.identity.did) throw new InputError(`${value} is this node itself`)
    await client.discovery.register({url: ctx.url}, {timeoutMs: 20_000, bits: ctx.settings.stampBits})
    // The operator's own choice: a peer dropped (and banned) earlier is taken back.
    ctx.peers.unban(hello.did)
    ctx.peers.upsert(hello.did, client.origin, 'peers add', Date.now(), hello.services)
    ctx.peers.markAlive(hello.did, Date.now() - started)
    ctx.log(`peer added: ${hello.did} at ${client.origin}`)
    sendJson(res, 200, ctx.peers.get(hello.did))
  })

  // `polar seed URL…` (#4): seed requests, then registration with every peer learned.
  router.on('POST', /^\/api\/v1\/seed$/, async (req, res) => {
    const {value} = await readJson(req, (v) => {
      if (!Array.isArray(v?.urls) || v.urls.length === 0 || v.urls.length > 64 || !v.urls.every((u: unknown) => typeof u === 'string')) throw new Error('expected {"urls": ["http://host:port", …]} with 1-64 URLs')
      return v.urls as string[]
    })
    const r = await ctx.discovery.seed(parseSeedUrls(value))
    if (r.answered === 0) throw new NetworkError(`no seed answered: ${r.errors.map((e) => `${e.url}: ${e.error}`).join('; ')}`)
    sendJson(res, 200, r)
  })

  router.on('POST', /^\/api\/v1\/peers\/(did:key:[A-Za-z0-9]{1,60})\/ping$/, async (_req, res, [did]) => {
    const peer = ctx.peers.get(did)
    if (!peer) throw new NotFoundError(`no peer ${did} in this node's table; see \`polar peers\``)
    const started = performance.now()
    let hello
    try {
      hello = await ctx.client(peer).hello({timeoutMs: 5_000})
    } catch (err) {
      ctx.peers.markFailure(did)
      throw new NetworkError(`${peer.url} did not answer: ${(err as Error).message}`)
    }
    const rttMs = Math.round((performance.now() - started) * 10) / 10
    if (hello.did !== did) {
      ctx.peers.markFailure(did)
      throw new NetworkError(`${peer.url} answers as ${hello.did}, not as ${did}`)
    }
    ctx.peers.markAlive(did, rttMs)
    sendJson(res, 200, {did, url: peer.url, rttMs})
  })

  // nat-test through the node (issue 4): its identity signs, its announced URL is tested.
  router.on('POST', /^\/api\/v1\/nat-test$/, async (_req, res, _p, url) => {
    const {natTest, DEFAULT_VIA_PEERS} = await import('../nat/index.js')
    let via = url.searchParams.getAll('via')
    if (via.length === 0) via = ctx.peers.live().sort(() => Math.random() - 0.5).slice(0, DEFAULT_VIA_PEERS).map((p) => p.url)
    sendJson(res, 200, await natTest({identity: ctx.identity, announced: ctx.url, via}))
  })

  router.on('DELETE', /^\/api\/v1\/peers\/(did:key:[A-Za-z0-9]{1,60})$/, (_req, res, [did]) => {
    if (!ctx.peers.remove(did)) throw new NotFoundError(`no peer ${did}`)
    sendJson(res, 200, {did, removed: true})
  })

  // search (with fan-out to peers) and trust records (issue 5)
  localSearchTrustRoutes(router, ctx)

  return router
}

/**
 * Streams verified bytes; the first block is read before the status line so
 * that "not found" or "corrupt" is a proper error response. A failure later
 * arrives as an HTTP trailer, which the CLI turns into the right exit code.
 */
async function streamChunks(res: ServerResponse, chunks: AsyncGenerator<Uint8Array>): Promise<boolean> {
  const it = chunks[Symbol.asyncIterator]()
  const first = await it.next()
  res.writeHead(200, {'content-type': 'application/octet-stream', trailer: ERROR_TRAILER})
  try {
    if (!first.done) await write(res, first.value)
    for (let r = await it.next(); !r.done; r = await it.next()) await write(res, r.value)
  } catch (err) {
    const {code, message} = statusOf(err)
    res.addTrailers({[ERROR_TRAILER]: JSON.stringify({code, message})})
    res.end()
    return false
  }
  res.end()
  return true
}

function write(res: ServerResponse, chunk: Uint8Array): Promise<void> {
  if (res.destroyed) return Promise.reject(new HttpError(499, 'CLIENT_GONE', 'client went away'))
  return new Promise((resolve, reject) => {
    // A pooled block (util/block-pool.ts) goes back once the socket is done with it, not before.
    if (res.write(chunk, () => releaseBlock(chunk))) return resolve()
    // One pair of listeners per wait, both removed when either fires (a long pull waits on most blocks).
    const drained = () => {
      res.off('close', closed)
      resolve()
    }
    const closed = () => {
      res.off('drain', drained)
      reject(new HttpError(499, 'CLIENT_GONE', 'client went away'))
    }
    res.once('drain', drained)
    res.once('close', closed)
  })
}
