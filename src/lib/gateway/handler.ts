import type {IncomingMessage, ServerResponse} from 'node:http'
import {Readable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import type {CID} from 'multiformats/cid'
import {parseCid} from '../content/cid.js'
import {HttpError} from '../net/http.js'
import {CAR_MEDIA_TYPE, writeCar} from './car.js'
import {canWalk, carBlocks, isIdentity, planWalk, rootLinks} from './car-blocks.js'
import {CAR_VERSION, carEtag, carRequest, contentDisposition, contentLocation, etagMatches, negotiate, RAW_MEDIA_TYPE} from './negotiate.js'

/**
 * The IPFS trustless gateway (https://specs.ipfs.tech/http-gateways/trustless-gateway/)
 * on a node's public listener: `GET/HEAD /ipfs/{cid}` answered with a raw
 * block or a CARv1 stream, so that any IPFS client can fetch polar content
 * and verify it without trusting the node. The gateway is non-recursive: it
 * serves what this node stores and never fetches from elsewhere, so missing
 * content is a definite 404 (path-gateway spec, "Recursive vs non-recursive
 * gateways"). docs/protocol.md lists every status code and why.
 */

/** path-gateway spec, "Cache-Control": MUST for every immutable /ipfs/ response. */
export const IMMUTABLE_CACHE_CONTROL = 'public, max-age=29030400, immutable'

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

/** Headers a 304 keeps (path-gateway spec, "304 Not Modified"). */
const NOT_MODIFIED_HEADERS = ['Etag', 'Cache-Control', 'Vary', 'X-Ipfs-Path', 'X-Ipfs-Roots', 'Content-Location', 'Access-Control-Allow-Origin']

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
    throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed on /ipfs/; this gateway answers GET and HEAD`, {Allow: 'GET, HEAD'})
  }
  const {cid, subPath} = parsePath(url)
  // path-gateway spec, "Service-Worker": registering a worker for /ipfs/{cid} MUST be refused.
  if (req.headers['service-worker'] === 'script') throw new HttpError(400, 'BAD_REQUEST', 'service worker registration is not allowed on this gateway')
  const accept = req.headers.accept?.trim() ?? ''
  const negotiated = negotiate(url, accept)

  // Raw blocks: only /ipfs/{cid} (trustless spec, "GET /ipfs/{cid}[/{path}]").
  // CARs may carry a path, but resolving one needs UnixFS pathing, which this
  // gateway does not do (path-gateway spec: 501 for pathing it cannot do).
  if (subPath !== '' && subPath !== '/') {
    if (negotiated.format === 'raw') throw new HttpError(400, 'BAD_REQUEST', 'a raw block is requested by CID alone: /ipfs/{cid}?format=raw, without a path')
    throw new HttpError(501, 'NOT_IMPLEMENTED', 'this gateway does not resolve paths under a CID; request the CID the path leads to')
  }

  const car = negotiated.format === 'car' ? carRequest(url, negotiated.acceptDups) : undefined
  if (car && car.scope === 'all' && !car.entityBytes && !canWalk(cid)) {
    throw new HttpError(400, 'BAD_REQUEST', `codec 0x${cid.code.toString(16)} of ${cid} cannot be walked by this gateway; ask for dag-scope=block or format=raw`)
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
    res.writeHead(304, pick(headers, NOT_MODIFIED_HEADERS))
    res.end()
    return
  }

  const onlyIfCached = /(^|,)\s*only-if-cached\s*(,|$)/i.test(req.headers['cache-control'] ?? '')
  const rootBytes = await loadRoot(cid, options, onlyIfCached)
  if (ifNoneMatch?.trim() === '*') {
    res.writeHead(304, pick(headers, NOT_MODIFIED_HEADERS))
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
  let links
  try {
    links = rootLinks(cid, rootBytes, plan)
  } catch (err) {
    throw new HttpError(400, 'BAD_REQUEST', `${(err as Error).message}; ask for dag-scope=block or format=raw to get the block itself`)
  }
  res.writeHead(200, headers)
  if (req.method === 'HEAD') {
    res.end()
    return
  }
  const blocks = carBlocks({cid, bytes: rootBytes}, plan, links, car.dups, (c) => loadBlock(c, options))
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
  if (!match || match[1] === '') throw new HttpError(400, 'BAD_REQUEST', 'no CID in the path; expected /ipfs/{cid}')
  let text: string
  try {
    text = decodeURIComponent(match[1])
  } catch {
    throw new HttpError(400, 'BAD_REQUEST', 'malformed percent-encoding in the CID')
  }
  try {
    return {cid: parseCid(text), subPath: match[2] ?? ''}
  } catch (err) {
    // path-gateway spec, "400 Bad Request": the CID is malformed.
    throw new HttpError(400, 'BAD_REQUEST', (err as Error).message)
  }
}

function pick(headers: Record<string, string>, names: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const n of names) if (headers[n] !== undefined) out[n] = headers[n]
  return out
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
  if (onlyIfCached && !(await options.blocks.has(cid))) throw new HttpError(412, 'NOT_CACHED', `block ${cid} is not on this node`)
  try {
    return await loadBlock(cid, options)
  } catch (err) {
    const name = (err as Error).name
    if (name === 'NotFoundError') throw new HttpError(onlyIfCached ? 412 : 404, onlyIfCached ? 'NOT_CACHED' : 'NOT_FOUND', `block ${cid} is not on this node`)
    if (name === 'IntegrityError') throw new HttpError(404, 'NOT_FOUND', `block ${cid} is not available on this node (its stored copy failed verification and awaits repair)`)
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
