import {HttpError} from '../net/http.js'
import {CAR_MEDIA_TYPE} from './car.js'

/**
 * What a trustless-gateway request asks for (https://specs.ipfs.tech/http-gateways/trustless-gateway/):
 * raw block or CAR, from `?format=` or `Accept`; the CAR's options
 * (`dag-scope`, `entity-bytes`, `car-dups`); and the response headers that
 * follow from the answer (Etag, Content-Location, Content-Disposition).
 * Refusals are HttpErrors with the status the spec asks for.
 */

/** application/vnd.ipld.raw: one block, its bytes hash to the requested CID. */
export const RAW_MEDIA_TYPE = 'application/vnd.ipld.raw'
/** What every CAR response is: we always walk depth-first and send each block once unless asked for dups. */
export const CAR_VERSION = 1
/** Response formats of the path-gateway spec that a trustless gateway does not produce: 406, not 400. */
const OTHER_GATEWAY_FORMATS = new Set(['tar', 'dag-json', 'dag-cbor', 'json', 'cbor', 'ipns-record'])

export type DagScope = 'all' | 'entity' | 'block'

export interface EntityBytes {
  from: number
  to: number | '*'
  text: string
}

export interface CarRequest {
  dups: boolean
  scope: DagScope
  entityBytes?: EntityBytes
}

export interface Negotiated {
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
export function negotiate(url: URL, accept: string): Negotiated {
  const all = accept ? parseAccept(accept) : []
  const ranges = all.filter((r) => r.q > 0)
  const carRanges = ranges.filter((r) => r.type === CAR_MEDIA_TYPE)
  const format = url.searchParams.get('format')
  if (format) {
    if (format === 'raw') return {format: 'raw', fromAccept: false}
    if (format === 'car') {
      if (carRanges.length === 0) return {format: 'car', fromAccept: false}
      const usable = carRanges.find((r) => carVariantOk(r.params))
      if (!usable) throw new HttpError(406, 'NOT_ACCEPTABLE', notAcceptable(accept))
      return {format: 'car', fromAccept: false, acceptDups: acceptDups(usable)}
    }
    if (OTHER_GATEWAY_FORMATS.has(format)) throw new HttpError(406, 'NOT_ACCEPTABLE', `format=${format} is not served here; this trustless gateway answers format=raw and format=car`)
    throw new HttpError(400, 'BAD_REQUEST', `unknown format=${JSON.stringify(format.slice(0, 40))}; use format=raw or format=car`)
  }
  // No Accept means */* (RFC 9110 section 12.5.1): no preference for a trustless type either way.
  if (all.every((r) => r.type === '*/*' || r.type === 'application/*')) {
    throw new HttpError(400, 'BAD_REQUEST', 'this is a trustless gateway: ask for ?format=raw or ?format=car (or send Accept: application/vnd.ipld.raw or application/vnd.ipld.car)')
  }
  for (const r of ranges) {
    if (r.type === RAW_MEDIA_TYPE) return {format: 'raw', fromAccept: true}
    if (r.type === CAR_MEDIA_TYPE && carVariantOk(r.params)) return {format: 'car', fromAccept: true, acceptDups: acceptDups(r)}
  }
  throw new HttpError(406, 'NOT_ACCEPTABLE', notAcceptable(accept))
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
export function carRequest(url: URL, fromAccept: boolean | undefined): CarRequest {
  const q = url.searchParams
  const problem = carParamError(q.get('car-version'), q.get('car-order'), q.get('car-dups'))
  if (problem) throw new HttpError(400, 'BAD_REQUEST', `unsupported ${problem}`)
  const dupsParam = q.get('car-dups')
  const dups = dupsParam ? dupsParam === 'y' : fromAccept ?? false

  const scopeParam = q.get('dag-scope')
  if (scopeParam && scopeParam !== 'all' && scopeParam !== 'entity' && scopeParam !== 'block') {
    throw new HttpError(400, 'BAD_REQUEST', `dag-scope must be all, entity or block, not ${JSON.stringify(scopeParam.slice(0, 40))}`)
  }
  const bytesParam = q.get('entity-bytes')
  if (bytesParam === null || bytesParam === '') return {dups, scope: (scopeParam || 'all') as DagScope}
  // entity-bytes implies dag-scope=entity; another explicit scope contradicts it.
  if (scopeParam && scopeParam !== 'entity') throw new HttpError(400, 'BAD_REQUEST', `entity-bytes implies dag-scope=entity, but dag-scope=${scopeParam} was given`)
  const m = /^(-?\d{1,16}):(-?\d{1,16}|\*)$/.exec(bytesParam)
  if (!m) throw new HttpError(400, 'BAD_REQUEST', `entity-bytes must be from:to (integers, negative from the end, to may be *), not ${JSON.stringify(bytesParam.slice(0, 40))}`)
  const from = Number(m[1])
  const to = m[2] === '*' ? '*' as const : Number(m[2])
  if (to !== '*' && from >= 0 && to >= 0 && from > to) throw new HttpError(400, 'BAD_REQUEST', `entity-bytes ${bytesParam}: from is after to`)
  return {dups, scope: 'entity', entityBytes: {from, to, text: bytesParam}}
}

/** Etag per path-gateway spec: CID plus format, and for CARs everything that changes the bytes (scope, range, dups). */
export function carEtag(cid: {toString(): string}, car: CarRequest): string {
  const range = car.entityBytes ? `.bytes=${car.entityBytes.text}` : ''
  return `"${cid}.car.${car.scope}${range}.dfs.dups-${car.dups ? 'y' : 'n'}"`
}

export function etagMatches(header: string, etag: string): boolean {
  // Weak comparison (RFC 9110 section 13.1.2): W/ prefixes are ignored.
  const bare = etag.replace(/^W\//, '')
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === bare)
}

/**
 * The URL with the negotiated format in its query, when it differs from the
 * request's (path-gateway spec, "Content-Location"), so that HTTP caches keep
 * raw, CAR and other responses apart.
 */
export function contentLocation(url: URL, n: Negotiated): string | undefined {
  const params = new URLSearchParams(url.search)
  if (!params.get('format')) params.set('format', n.format)
  if (n.format === 'car' && n.acceptDups !== undefined && !params.get('car-dups')) params.set('car-dups', n.acceptDups ? 'y' : 'n')
  const query = params.toString()
  return query === url.searchParams.toString() ? undefined : `${url.pathname}?${query}`
}

/** attachment with a filename; non-ASCII names get an RFC 8187 filename* too (path-gateway spec, "Content-Disposition"). */
export function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/gu, '_')
  if (ascii === name) return `attachment; filename="${name}"`
  const utf8 = encodeURIComponent(name).replace(/['()*!]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())
  return `attachment; filename="${ascii}"; filename*=UTF-8''${utf8}`
}
