import type {IncomingMessage, ServerResponse} from 'node:http'
import {Readable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import * as dagCbor from '@ipld/dag-cbor'
import * as dagPb from '@ipld/dag-pb'
import {UnixFS} from 'ipfs-unixfs'
import {CID} from 'multiformats/cid'
import {parseCid} from '../content/cid.js'
import {DAG_CBOR_CODE, DAG_PB_CODE, RAW_CODE} from '../content/constants.js'
import {IntegrityError} from '../errors.js'
import {CAR_MEDIA_TYPE, writeCar, type CarBlock} from './car.js'

/**
 * The IPFS trustless gateway (https://specs.ipfs.tech/http-gateways/trustless-gateway/)
 * on a node's public listener: `GET/HEAD /ipfs/{cid}` answered with a raw
 * block or a CARv1 stream, so that any IPFS client can fetch polar content
 * and verify it without trusting the node. The gateway is non-recursive: it
 * serves what this node stores and never fetches from elsewhere, so missing
 * content is a definite 404 (path-gateway spec, "Recursive vs non-recursive
 * gateways"). docs/protocol.md lists every status code and why.
 */

/** application/vnd.ipld.raw: one block, its bytes hash to the requested CID. */
export const RAW_MEDIA_TYPE = 'application/vnd.ipld.raw'
/** What every CAR response is: we always walk depth-first and send each block once unless asked for dups. */
export const CAR_VERSION = 1
/** path-gateway spec, "Cache-Control": MUST for every immutable /ipfs/ response. */
export const IMMUTABLE_CACHE_CONTROL = 'public, max-age=29030400, immutable'
/**
 * How deep a CAR walk goes before giving up. UnixFS files are at most
 * MAX_DAG_DEPTH (8) levels deep and records add one; a deeper DAG is hostile
 * (every level keeps its pending sibling links in memory).
 */
export const MAX_WALK_DEPTH = 32
/** Multihash code of the identity "hash": the block's bytes are the digest (multiformats/multicodec table.csv). */
const IDENTITY_CODE = 0x00
/** Codecs whose blocks never hold links (multicodec table: json, cbor). */
const JSON_CODE = 0x0200
const CBOR_CODE = 0x51
const LEAF_CODECS = new Set([RAW_CODE, JSON_CODE, CBOR_CODE])
/** Response formats of the path-gateway spec that a trustless gateway does not produce: 406, not 400. */
const OTHER_GATEWAY_FORMATS = new Set(['tar', 'dag-json', 'dag-cbor', 'json', 'cbor', 'ipns-record'])

/** Where the gateway reads blocks. `get` returns only verified bytes and throws NotFoundError / IntegrityError (BlockStore does). */
export interface GatewayBlocks {
  has(cid: CID): boolean | Promise<boolean>
  get(cid: CID): Uint8Array | Promise<Uint8Array>
}

export interface GatewayOptions {
  blocks: GatewayBlocks
  /** Called for a stored block that failed verification; it is never served (the node heals it from a replica). */
  onCorruptBlock?: (cid: CID) => void
}

type DagScope = 'all' | 'entity' | 'block'

interface EntityBytes {
  from: number
  to: number | '*'
  text: string
}

interface CarRequest {
  dups: boolean
  scope: DagScope
  entityBytes?: EntityBytes
}

interface Plan {
  /** all: every link; block: the root only; hamt: a sharded directory's own shards (dag-scope=entity). */
  mode: 'all' | 'block' | 'hamt'
  /** Inclusive byte range of the root file still wanted (entity-bytes); undefined = all of it. */
  range?: ByteRange
}

interface ByteRange {
  from: number
  to: number
}

interface Frame {
  cid: CID
  depth: number
  range?: ByteRange
}

/** An answer other than 200, thrown from inside the handler. */
class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: Record<string, string> = {}) {
    super(message)
  }
}

/**
 * Handles GET/HEAD /ipfs/{cid}[?format=raw|car]. Returns false when the path
 * is not under /ipfs (the caller routes it elsewhere); otherwise the response
 * has been sent (or, for a CAR that failed mid-stream, destroyed) when the
 * promise settles. Never rejects.
 */
export async function handleGateway(req: IncomingMessage, res: ServerResponse, url: URL, options: GatewayOptions): Promise<boolean> {
  if (url.pathname !== '/ipfs' && !url.pathname.startsWith('/ipfs/')) return false
  try {
    await serve(req, res, url, options)
  } catch (err) {
    try {
      if (res.headersSent) res.destroy(err as Error)
      else if (err instanceof HttpError) sendError(req, res, err.status, err.message, err.headers)
      // Only a genuine server fault gets here (trustless spec, "500"): an I/O error of the store, say.
      else sendError(req, res, 500, 'the gateway could not read its block store; try again later')
    } catch {
      res.destroy()
    }
  }
  return true
}

async function serve(req: IncomingMessage, res: ServerResponse, url: URL, options: GatewayOptions): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    throw new HttpError(405, `${req.method} is not allowed on /ipfs/; this gateway answers GET and HEAD`, {Allow: 'GET, HEAD'})
  }
  const {cid, subPath} = parsePath(url)
  // path-gateway spec, "Service-Worker": registering a worker for /ipfs/{cid} MUST be refused.
  if (req.headers['service-worker'] === 'script') throw new HttpError(400, 'service worker registration is not allowed on this gateway')
  const accept = req.headers.accept?.trim() ?? ''
  const negotiated = negotiate(url, accept)

  // Raw blocks: only /ipfs/{cid} (trustless spec, "GET /ipfs/{cid}[/{path}]").
  // CARs may carry a path, but resolving one needs UnixFS pathing, which this
  // gateway does not do (path-gateway spec: 501 for pathing it cannot do).
  if (subPath !== '' && subPath !== '/') {
    if (negotiated.format === 'raw') throw new HttpError(400, 'a raw block is requested by CID alone: /ipfs/{cid}?format=raw, without a path')
    throw new HttpError(501, 'this gateway does not resolve paths under a CID; request the CID the path leads to')
  }

  const car = negotiated.format === 'car' ? carRequest(url, negotiated.acceptDups) : undefined
  if (car && car.scope === 'all' && !car.entityBytes && !canWalk(cid)) {
    throw new HttpError(400, `codec 0x${cid.code.toString(16)} of ${cid} cannot be walked by this gateway; ask for dag-scope=block or format=raw`)
  }

  const etag = car ? carEtag(cid, car) : `"${cid}.raw"`
  const headers: Record<string, string> = {
    'Content-Type': car ? `${CAR_MEDIA_TYPE}; version=${CAR_VERSION}; order=dfs; dups=${car.dups ? 'y' : 'n'}` : RAW_MEDIA_TYPE,
    // Trustless spec, "Content-Disposition": MUST be attachment, so browsers never render the bytes.
    'Content-Disposition': contentDisposition(url.searchParams.get('filename') || `${cid}.${car ? 'car' : 'bin'}`),
    Etag: etag,
    'Cache-Control': IMMUTABLE_CACHE_CONTROL,
    'X-Content-Type-Options': 'nosniff',
    'X-Ipfs-Path': url.pathname,
    'X-Ipfs-Roots': cid.toString(),
    Vary: 'Accept',
    // Range requests are not served; the whole block or CAR is always sent.
    'Accept-Ranges': 'none',
    // The content is public and immutable: let browser IPFS clients (Helia) read it.
    'Access-Control-Allow-Origin': '*',
  }
  const location = contentLocation(url, negotiated)
  if (location) headers['Content-Location'] = location

  // path-gateway spec, "If-None-Match": a matching Etag MUST get 304 without payload.
  const ifNoneMatch = req.headers['if-none-match']
  if (ifNoneMatch && ifNoneMatch.trim() !== '*' && etagMatches(ifNoneMatch, etag)) {
    res.writeHead(304, pick(headers, ['Etag', 'Cache-Control', 'Vary', 'X-Ipfs-Path', 'X-Ipfs-Roots', 'Content-Location', 'Access-Control-Allow-Origin']))
    res.end()
    return
  }

  const onlyIfCached = /(^|,)\s*only-if-cached\s*(,|$)/i.test(req.headers['cache-control'] ?? '')
  const rootBytes = await loadRoot(cid, options, onlyIfCached)
  if (ifNoneMatch?.trim() === '*') {
    res.writeHead(304, pick(headers, ['Etag', 'Cache-Control', 'Vary', 'X-Ipfs-Path', 'X-Ipfs-Roots', 'Content-Location', 'Access-Control-Allow-Origin']))
    res.end()
    return
  }

  if (!car) {
    headers['Content-Length'] = String(rootBytes.length)
    res.writeHead(200, headers)
    res.end(req.method === 'HEAD' ? undefined : rootBytes)
    return
  }

  const plan = planWalk(cid, rootBytes, car)
  // Read the root's links before committing to 200, so a root that cannot be
  // walked is a clear 400 rather than a CAR cut after its first block.
  let rootLinks: Frame[] = []
  if (plan.mode !== 'block') {
    try {
      rootLinks = childrenOf({cid, depth: 0, range: plan.range}, rootBytes, plan.mode)
    } catch (err) {
      throw new HttpError(400, `${(err as Error).message}; ask for dag-scope=block or format=raw to get the block itself`)
    }
  }
  res.writeHead(200, headers)
  if (req.method === 'HEAD') {
    res.end()
    return
  }
  const root: CarBlock = {cid, bytes: rootBytes}
  const blocks = walkDag(root, plan.range, rootLinks, car.dups, plan.mode, (c) => loadBlock(c, options))
  const body = Readable.from(writeCar([cid], blocks), {objectMode: true, highWaterMark: 1})
  try {
    await pipeline(body, res)
  } catch {
    // pipeline destroyed the response: the client sees a truncated CAR, which
    // it must treat as a failed retrieval (trustless spec, "Streaming and
    // Missing Child Blocks"). A 200 cannot be taken back once sent.
  }
}

function parsePath(url: URL): {cid: CID; subPath: string} {
  const match = /^\/ipfs\/([^/]*)(\/.*)?$/.exec(url.pathname)
  if (!match || match[1] === '') throw new HttpError(400, 'no CID in the path; expected /ipfs/{cid}')
  let text: string
  try {
    text = decodeURIComponent(match[1])
  } catch {
    throw new HttpError(400, 'malformed percent-encoding in the CID')
  }
  try {
    return {cid: parseCid(text), subPath: match[2] ?? ''}
  } catch (err) {
    // path-gateway spec, "400 Bad Request": the CID is malformed.
    throw new HttpError(400, (err as Error).message)
  }
}

interface Negotiated {
  format: 'raw' | 'car'
  /** The format came from Accept, not from ?format= (so Content-Location is due). */
  fromAccept: boolean
  /** dups asked for in an Accept CAR media range, when the query has no car-dups. */
  acceptDups?: boolean
}

interface MediaRange {
  type: string
  params: Map<string, string>
  q: number
  index: number
}

/**
 * Picks raw or CAR (trustless spec, "Accept" and "format"): ?format= wins over
 * Accept. With neither (or an Accept of wildcards only, which says as little:
 * curl and fetch send *\/*), a strict trustless gateway answers 400; an Accept
 * that names only types we do not produce (text/html) gets 406 Not Acceptable.
 */
function negotiate(url: URL, accept: string): Negotiated {
  const all = accept ? parseAccept(accept) : []
  const ranges = all.filter((r) => r.q > 0)
  const carRanges = ranges.filter((r) => r.type === CAR_MEDIA_TYPE)
  const format = url.searchParams.get('format')
  if (format) {
    if (format === 'raw') return {format: 'raw', fromAccept: false}
    if (format === 'car') {
      if (carRanges.length === 0) return {format: 'car', fromAccept: false}
      const usable = carRanges.find((r) => carVariantOk(r.params))
      if (!usable) throw new HttpError(406, notAcceptable(accept))
      return {format: 'car', fromAccept: false, acceptDups: acceptDups(usable)}
    }
    if (OTHER_GATEWAY_FORMATS.has(format)) throw new HttpError(406, `format=${format} is not served here; this trustless gateway answers format=raw and format=car`)
    throw new HttpError(400, `unknown format=${JSON.stringify(format.slice(0, 40))}; use format=raw or format=car`)
  }
  // No Accept means */* (RFC 9110 section 12.5.1): no preference for a trustless type either way.
  if (all.every((r) => r.type === '*/*' || r.type === 'application/*')) {
    throw new HttpError(400, 'this is a trustless gateway: ask for ?format=raw or ?format=car (or send Accept: application/vnd.ipld.raw or application/vnd.ipld.car)')
  }
  for (const r of ranges) {
    if (r.type === RAW_MEDIA_TYPE) return {format: 'raw', fromAccept: true}
    if (r.type === CAR_MEDIA_TYPE && carVariantOk(r.params)) return {format: 'car', fromAccept: true, acceptDups: acceptDups(r)}
  }
  throw new HttpError(406, notAcceptable(accept))
}

function notAcceptable(accept: string): string {
  return `cannot produce ${JSON.stringify(accept.slice(0, 200))}; this trustless gateway serves ${RAW_MEDIA_TYPE} and ${CAR_MEDIA_TYPE}; version=1 (order=dfs or unk, dups=y or n)`
}

/** Media ranges by preference: q, then position (RFC 9110 section 12.5.1); q=0 means "not this one". */
function parseAccept(header: string): MediaRange[] {
  const out: MediaRange[] = []
  header.split(',').forEach((part, index) => {
    const [type, ...rest] = part.split(';').map((s) => s.trim())
    if (!type) return
    const params = new Map<string, string>()
    let q = 1
    for (const p of rest) {
      const eq = p.indexOf('=')
      if (eq <= 0) continue
      const key = p.slice(0, eq).trim().toLowerCase()
      let value = p.slice(eq + 1).trim()
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
      if (key === 'q') {
        const n = Number(value)
        q = Number.isFinite(n) ? Math.min(Math.max(n, 0), 1) : 1
      } else {
        params.set(key, value.toLowerCase())
      }
    }
    out.push({type: type.toLowerCase(), params, q, index})
  })
  return out.sort((a, b) => b.q - a.q || a.index - b.index)
}

/** CAR variants we produce (IPIP-412): version 1, dfs order (which also satisfies unk), dups y or n. */
function carVariantOk(params: Map<string, string>): boolean {
  return carParamError(params.get('version'), params.get('order'), params.get('dups')) === undefined
}

function carParamError(version: string | undefined | null, order: string | undefined | null, dups: string | undefined | null): string | undefined {
  if (version && version !== '1') return `CAR version ${version} (only version 1 is served)`
  if (order && order !== 'dfs' && order !== 'unk') return `CAR order ${order} (only dfs, which also satisfies unk)`
  if (dups && dups !== 'y' && dups !== 'n') return `CAR dups ${dups} (y or n)`
  return undefined
}

function acceptDups(r: MediaRange): boolean | undefined {
  const d = r.params.get('dups')
  return d ? d === 'y' : undefined
}

/** The CAR options of a request: car-* query parameters win over Accept parameters (trustless spec). */
function carRequest(url: URL, fromAccept: boolean | undefined): CarRequest {
  const q = url.searchParams
  const problem = carParamError(q.get('car-version'), q.get('car-order'), q.get('car-dups'))
  if (problem) throw new HttpError(400, `unsupported ${problem}`)
  const dupsParam = q.get('car-dups')
  const dups = dupsParam ? dupsParam === 'y' : fromAccept ?? false

  const scopeParam = q.get('dag-scope')
  if (scopeParam && scopeParam !== 'all' && scopeParam !== 'entity' && scopeParam !== 'block') {
    throw new HttpError(400, `dag-scope must be all, entity or block, not ${JSON.stringify(scopeParam.slice(0, 40))}`)
  }
  const bytesParam = q.get('entity-bytes')
  if (bytesParam === null || bytesParam === '') return {dups, scope: (scopeParam || 'all') as DagScope}
  // entity-bytes implies dag-scope=entity; another explicit scope contradicts it.
  if (scopeParam && scopeParam !== 'entity') throw new HttpError(400, `entity-bytes implies dag-scope=entity, but dag-scope=${scopeParam} was given`)
  const m = /^(-?\d{1,16}):(-?\d{1,16}|\*)$/.exec(bytesParam)
  if (!m) throw new HttpError(400, `entity-bytes must be from:to (integers, negative from the end, to may be *), not ${JSON.stringify(bytesParam.slice(0, 40))}`)
  const from = Number(m[1])
  const to = m[2] === '*' ? '*' as const : Number(m[2])
  if (to !== '*' && from >= 0 && to >= 0 && from > to) throw new HttpError(400, `entity-bytes ${bytesParam}: from is after to`)
  return {dups, scope: 'entity', entityBytes: {from, to, text: bytesParam}}
}

/** Etag per path-gateway spec: CID plus format, and for CARs everything that changes the bytes (scope, range, dups). */
function carEtag(cid: CID, car: CarRequest): string {
  const range = car.entityBytes ? `.bytes=${car.entityBytes.text}` : ''
  return `"${cid}.car.${car.scope}${range}.dfs.dups-${car.dups ? 'y' : 'n'}"`
}

function etagMatches(header: string, etag: string): boolean {
  // Weak comparison (RFC 9110 section 13.1.2): W/ prefixes are ignored.
  const bare = etag.replace(/^W\//, '')
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === bare)
}

/**
 * The URL with the negotiated format in its query, when it differs from the
 * request's (path-gateway spec, "Content-Location"), so that HTTP caches keep
 * raw, CAR and other responses apart.
 */
function contentLocation(url: URL, n: Negotiated): string | undefined {
  const params = new URLSearchParams(url.search)
  if (!params.get('format')) params.set('format', n.format)
  if (n.format === 'car' && n.acceptDups !== undefined && !params.get('car-dups')) params.set('car-dups', n.acceptDups ? 'y' : 'n')
  const query = params.toString()
  return query === url.searchParams.toString() ? undefined : `${url.pathname}?${query}`
}

/** attachment with a filename; non-ASCII names get an RFC 8187 filename* too (path-gateway spec, "Content-Disposition"). */
function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/gu, '_')
  if (ascii === name) return `attachment; filename="${name}"`
  const utf8 = encodeURIComponent(name).replace(/['()*!]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())
  return `attachment; filename="${ascii}"; filename*=UTF-8''${utf8}`
}

function pick(headers: Record<string, string>, names: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const n of names) if (headers[n] !== undefined) out[n] = headers[n]
  return out
}

function isIdentity(cid: CID): boolean {
  return cid.multihash.code === IDENTITY_CODE
}

function canWalk(cid: CID): boolean {
  return LEAF_CODECS.has(cid.code) || cid.code === DAG_PB_CODE || cid.code === DAG_CBOR_CODE
}

/**
 * The root block, or the status the spec asks for: 404 when this node does
 * not hold it (the trustless spec's MUST for a missing root), 412 for
 * `Cache-Control: only-if-cached`. A stored block that fails verification is
 * reported and answered like a missing one: the node cannot vouch for it, and
 * once repair has fetched a good copy the same request succeeds.
 */
async function loadRoot(cid: CID, options: GatewayOptions, onlyIfCached: boolean): Promise<Uint8Array> {
  // Identity CIDs carry their bytes; bafkqaaa (the empty one) is the spec's probe.
  if (isIdentity(cid)) return cid.multihash.digest
  if (onlyIfCached && !(await options.blocks.has(cid))) throw new HttpError(412, `block ${cid} is not on this node`)
  try {
    return await loadBlock(cid, options)
  } catch (err) {
    const name = (err as Error).name
    if (name === 'NotFoundError') throw new HttpError(onlyIfCached ? 412 : 404, `block ${cid} is not on this node`)
    if (name === 'IntegrityError') throw new HttpError(404, `block ${cid} is not available on this node (its stored copy failed verification and awaits repair)`)
    throw err
  }
}

async function loadBlock(cid: CID, options: GatewayOptions): Promise<Uint8Array> {
  if (isIdentity(cid)) return cid.multihash.digest
  try {
    return await options.blocks.get(cid)
  } catch (err) {
    if ((err as Error).name === 'IntegrityError') options.onCorruptBlock?.(cid)
    throw err
  }
}

/**
 * Decides which blocks a CAR holds (trustless spec, "dag-scope" and
 * "entity-bytes"). entity: a UnixFS file (or raw leaf) is all of its blocks,
 * or with entity-bytes only those covering the range; a sharded directory is
 * its shard nodes; any other node (plain directory, symlink, dag-cbor) is
 * its own block.
 */
function planWalk(cid: CID, bytes: Uint8Array, car: CarRequest): Plan {
  if (car.scope === 'block') return {mode: 'block'}
  if (car.scope === 'all') return {mode: 'all'}
  if (cid.code === RAW_CODE) {
    if (car.entityBytes) resolveRange(car.entityBytes, bytes.length)
    return {mode: 'block'}
  }
  if (cid.code !== DAG_PB_CODE) return {mode: 'block'}
  const unixfs = decodeUnixfs(bytes)
  if (!unixfs) return {mode: 'block'}
  if (unixfs.type === 'hamt-sharded-directory') return {mode: 'hamt'}
  if (unixfs.type !== 'file' && unixfs.type !== 'raw') return {mode: 'block'}
  if (!car.entityBytes) return {mode: 'all'}
  const range = resolveRange(car.entityBytes, Number(unixfs.fileSize()))
  if (range === 'empty') return {mode: 'block'}
  return {mode: 'all', range: range === 'whole' ? undefined : range}
}

function decodeUnixfs(bytes: Uint8Array): UnixFS | undefined {
  try {
    const node = dagPb.decode(bytes)
    return node.Data ? UnixFS.unmarshal(node.Data) : undefined
  } catch {
    return undefined
  }
}

/**
 * entity-bytes against a file of `size` bytes: negative offsets count from
 * the end, `*` is the last byte, and the range is clipped to the file. A range
 * that starts past the end is a 400 (we know the size up front); one that
 * resolves to nothing is answered like dag-scope=block (trustless spec).
 */
function resolveRange(spec: EntityBytes, size: number): ByteRange | 'whole' | 'empty' {
  if (spec.from >= 0 && spec.from >= size && size > 0) {
    throw new HttpError(400, `entity-bytes ${spec.text} starts past the end of the ${size}-byte entity`)
  }
  const from = Math.max(0, spec.from < 0 ? size + spec.from : spec.from)
  const to = Math.min(size - 1, spec.to === '*' ? size - 1 : spec.to < 0 ? size + spec.to : spec.to)
  if (size === 0 || to < from) return 'empty'
  if (from === 0 && to === size - 1) return 'whole'
  return {from, to}
}

/**
 * The blocks of the CAR in depth-first order (links in the order the block
 * lists them), the root first. With dups=n a block goes out once: a subtree
 * met again was sent in full the first time (depth-first finishes a subtree
 * before its siblings), so it is skipped whole. Blocks visited for part of a
 * range are remembered apart, since a later visit may need other children.
 * Identity blocks are never sent (trustless spec, "CAR dups"); their links are.
 * Memory: the pending links of the current path plus, for dups=n, one string
 * per distinct block sent.
 */
async function * walkDag(
  root: CarBlock, rootRange: ByteRange | undefined, rootLinks: Frame[], dups: boolean, mode: Plan['mode'],
  load: (cid: CID) => Promise<Uint8Array>,
): AsyncGenerator<CarBlock> {
  const complete = new Set<string>()
  const partial = new Set<string>()
  if (!isIdentity(root.cid)) yield root
  if (mode === 'block') return
  if (!dups) (rootRange ? partial : complete).add(root.cid.toString())
  const stack: Frame[] = rootLinks.slice().reverse()
  while (stack.length > 0) {
    const frame = stack.pop()!
    const key = frame.cid.toString()
    if (!dups && complete.has(key)) continue
    const bytes = await load(frame.cid)
    if (!isIdentity(frame.cid) && (dups || !partial.has(key))) yield {cid: frame.cid, bytes}
    if (!dups) (frame.range ? partial : complete).add(key)
    const children = childrenOf(frame, bytes, mode)
    if (children.length > 0 && frame.depth >= MAX_WALK_DEPTH) {
      throw new IntegrityError(`DAG under ${root.cid} is deeper than ${MAX_WALK_DEPTH} levels`)
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i])
  }
}

function childrenOf(frame: Frame, bytes: Uint8Array, mode: 'all' | 'hamt'): Frame[] {
  const {cid, depth} = frame
  if (LEAF_CODECS.has(cid.code)) return []
  const child = (c: CID, range?: ByteRange): Frame => ({cid: c, depth: depth + 1, range})
  if (cid.code === DAG_CBOR_CODE) {
    let value: unknown
    try {
      value = dagCbor.decode(bytes)
    } catch (err) {
      throw new IntegrityError(`block ${cid} is not valid dag-cbor: ${(err as Error).message}`)
    }
    return linksIn(value).map((c) => child(c))
  }
  if (cid.code !== DAG_PB_CODE) throw new IntegrityError(`block ${cid} has codec 0x${cid.code.toString(16)}, whose links this gateway cannot read`)
  let node: dagPb.PBNode
  try {
    node = dagPb.decode(bytes)
  } catch (err) {
    throw new IntegrityError(`block ${cid} is not valid dag-pb: ${(err as Error).message}`)
  }
  if (mode === 'hamt') {
    const unixfs = node.Data ? UnixFS.unmarshal(node.Data) : undefined
    if (unixfs?.type !== 'hamt-sharded-directory' || unixfs.fanout === undefined) return []
    // A link named by the bucket index alone (fanout-1 in hex, padded) is a
    // sub-shard; a longer name is a directory entry, outside the entity.
    const pad = (Number(unixfs.fanout) - 1).toString(16).length
    return node.Links.filter((l) => (l.Name ?? '').length === pad).map((l) => child(l.Hash))
  }
  if (!frame.range) return node.Links.map((l) => child(l.Hash))
  return rangeChildren(frame, node).map(([c, r]) => child(c, r))
}

/** The children of a UnixFS file node that hold bytes of `frame.range`, each with its part of the range. */
function rangeChildren(frame: Frame, node: dagPb.PBNode): Array<[CID, ByteRange | undefined]> {
  const unixfs = node.Data ? UnixFS.unmarshal(node.Data) : undefined
  if (!unixfs || (unixfs.type !== 'file' && unixfs.type !== 'raw') || unixfs.blockSizes.length !== node.Links.length) {
    throw new IntegrityError(`block ${frame.cid} is not a UnixFS file node whose links match its block sizes`)
  }
  const {from, to} = frame.range!
  const out: Array<[CID, ByteRange | undefined]> = []
  // A file node's own data comes before its children's (UnixFS spec).
  let offset = unixfs.data?.length ?? 0
  for (let i = 0; i < node.Links.length; i++) {
    const size = Number(unixfs.blockSizes[i])
    const start = Math.max(from - offset, 0)
    const end = Math.min(to - offset, size - 1)
    if (start <= end) out.push([node.Links[i].Hash, start === 0 && end === size - 1 ? undefined : {from: start, to: end}])
    offset += size
    if (offset > to) break
  }
  return out
}

/** Every CID in a decoded dag-cbor value, in document order. */
function linksIn(value: unknown): CID[] {
  const out: CID[] = []
  const stack: unknown[] = [value]
  while (stack.length > 0) {
    const v = stack.pop()
    if (v === null || typeof v !== 'object' || v instanceof Uint8Array) continue
    const cid = CID.asCID(v)
    if (cid) {
      out.push(cid)
      continue
    }
    const items = Array.isArray(v) ? v : Object.values(v)
    for (let i = items.length - 1; i >= 0; i--) stack.push(items[i])
  }
  return out
}

function sendError(req: IncomingMessage, res: ServerResponse, status: number, message: string, extra: Record<string, string> = {}): void {
  const body = Buffer.from(message + '\n')
  // Errors are not cached: a block missing now may arrive by replication or repair.
  const headers: Record<string, string | number> = {
    'Cache-Control': 'no-store',
    Vary: 'Accept',
    'X-Content-Type-Options': 'nosniff',
    'Access-Control-Allow-Origin': '*',
    ...extra,
  }
  // path-gateway spec, 412: "without any payload or specific HTTP headers".
  if (status === 412) {
    res.writeHead(412, {'Cache-Control': 'no-store'})
    res.end()
    return
  }
  headers['Content-Type'] = 'text/plain; charset=utf-8'
  headers['Content-Length'] = body.length
  res.writeHead(status, headers)
  res.end(req.method === 'HEAD' ? undefined : body)
}
