import {isDid} from '../identity/index.js'
import {HttpError, readJson, sendJson, type Router} from '../net/http.js'
import {parseQuery, queryFromParams, queryParams, searchCandidates, searchLocal, searchNetwork, type PeerSearcher, type SearchQuery} from '../search/index.js'
import {decodeTrustRecord} from '../records/trust-record.js'
import {acceptTrust, nodeOwner, trustStore} from './trust-sync.js'
import {MAX_TRUST_RECORDS_FOREIGN} from '../trust/limits.js'
import type {NodeContext} from './context.js'

/** What the search and trust routes use of the node: the store, the peer table and a client per peer. */
export type SearchTrustComponents = Pick<NodeContext, 'client' | 'peers' | 'store' | 'home' | 'track'>

const DID_RE = '(did:key:[A-Za-z0-9]{1,60})'

function recordBody(v: any): Buffer {
  if (typeof v?.record !== 'string' || v.record.length > 32 * 1024) throw new Error('expected {"record": base64 dag-cbor trust record}')
  return Buffer.from(v.record, 'base64')
}

/** A trust record that does not verify is the sender's bad input (400), never stored. */
function accept(ctx: SearchTrustComponents, bytes: Uint8Array, from?: string) {
  try {
    return acceptTrust(ctx, bytes, from)
  } catch (err) {
    if ((err as Error).name === 'IntegrityError') throw new HttpError(400, 'BAD_RECORD', (err as Error).message)
    throw err
  }
}

function scoreAnswer(ctx: SearchTrustComponents, from: string, did: string) {
  const s = trustStore(ctx).score(from, did)
  return {did, from, score: s.score, paths: s.paths, pathCount: s.pathCount}
}

/** Peer protocol routes of issue 5: search this node's index, and trust records (docs/protocol.md). */
export function publicSearchTrustRoutes(router: Router, ctx: SearchTrustComponents): void {
  // This node's own index only (no fan-out from here: a search never amplifies).
  router.on('GET', /^\/v1\/search$/, (_req, res, _p, url) => {
    const q = parseQuery(queryFromParams(url.searchParams))
    const hits = searchLocal(ctx.store.db, q)
    const from = url.searchParams.get('from')
    let trust: Record<string, number> | undefined
    if (from !== null) {
      if (!isDid(from)) throw new HttpError(400, 'BAD_INPUT', 'from must be an ed25519 did:key')
      const store = trustStore(ctx)
      trust = {}
      for (const h of hits) trust[h.owner] ??= store.score(from, h.owner, {withPaths: false}).score
    }
    sendJson(res, 200, {records: hits.map((h) => Buffer.from(h.bytes).toString('base64')), ...(trust ? {trust} : {})})
  })

  router.on('POST', /^\/v1\/trust$/, async (req, res) => {
    const {value} = await readJson(req, recordBody, 64 * 1024)
    const store = trustStore(ctx)
    const owner = nodeOwner(ctx)
    if (store.count() >= MAX_TRUST_RECORDS_FOREIGN) {
      // Full: keep taking records of identities near the owner (new versions), refuse strangers'.
      let signer: string
      try {
        signer = decodeTrustRecord(value).record.owner
      } catch (err) {
        throw new HttpError(400, 'BAD_RECORD', (err as Error).message)
      }
      if (!owner || !store.neighbourhood(owner).includes(signer)) throw new HttpError(403, 'NOT_ALLOWED', `this node keeps at most ${MAX_TRUST_RECORDS_FOREIGN} trust records and ${signer} is not within reach of its owner`)
    }
    sendJson(res, 200, accept(ctx, value))
  })

  router.on('POST', /^\/v1\/trust\/get$/, async (req, res) => {
    const {value} = await readJson(req, (v) => {
      if (!Array.isArray(v?.dids) || v.dids.length > 256 || !v.dids.every((d: unknown) => typeof d === 'string' && d.length <= 64)) throw new Error('expected {"dids": [did:key, …]} with at most 256 dids')
      return v.dids as string[]
    })
    const store = trustStore(ctx)
    const records: string[] = []
    for (const d of new Set(value)) {
      const b = store.bytesOf(d)
      if (b) records.push(Buffer.from(b).toString('base64'))
    }
    sendJson(res, 200, {records})
  })

  router.on('GET', new RegExp(`^/v1/trust/${DID_RE}$`), (_req, res, [did]) => {
    if (!isDid(did)) throw new HttpError(400, 'BAD_INPUT', 'not an ed25519 did:key')
    const b = trustStore(ctx).bytesOf(did)
    if (!b) throw new HttpError(404, 'NOT_FOUND', `no trust record of ${did} on this node`)
    sendJson(res, 200, {record: Buffer.from(b).toString('base64')})
  })

  router.on('GET', new RegExp(`^/v1/trust/${DID_RE}/score$`), (_req, res, [did], url) => {
    const from = url.searchParams.get('from') ?? nodeOwner(ctx)
    if (!isDid(did) || !from || !isDid(from)) throw new HttpError(400, 'BAD_INPUT', 'expected /v1/trust/{did}/score?from={did} (ed25519 did:keys)')
    sendJson(res, 200, scoreAnswer(ctx, from, did))
  })
}

/** Peers of this node as search targets. */
function peerSearchers(ctx: SearchTrustComponents, q: SearchQuery, query: string): PeerSearcher[] {
  return ctx.peers.live().map((p) => ({did: p.did, search: (_q, signal) => ctx.client(p).objects.search(queryParams({...q, query}), {signal, timeoutMs: 3_000})}))
}

/** Local API routes of issue 5 (the CLI's search and trust commands through the node). */
export function localSearchTrustRoutes(router: Router, ctx: SearchTrustComponents): void {
  router.on('GET', /^\/api\/v1\/search$/, async (_req, res, _p, url) => {
    const input = queryFromParams(url.searchParams)
    const q = parseQuery(input)
    const from = url.searchParams.get('from') ?? nodeOwner(ctx)
    const store = trustStore(ctx)
    const report = await searchNetwork(q, searchCandidates(ctx.store.db, q), peerSearchers(ctx, q, input.query), (owner) => (from && isDid(from) ? store.score(from, owner, {withPaths: false}).score : 0))
    sendJson(res, 200, report)
  })

  router.on('GET', new RegExp(`^/api/v1/trust/${DID_RE}$`), (_req, res, [did]) => {
    if (!isDid(did)) throw new HttpError(400, 'BAD_INPUT', 'not an ed25519 did:key')
    const b = trustStore(ctx).bytesOf(did)
    sendJson(res, 200, {record: b ? Buffer.from(b).toString('base64') : null})
  })

  router.on('POST', /^\/api\/v1\/trust$/, async (req, res) => {
    const {value} = await readJson(req, recordBody, 64 * 1024)
    sendJson(res, 200, accept(ctx, value))
  })

  router.on('GET', new RegExp(`^/api/v1/trust/${DID_RE}/score$`), (_req, res, [did], url) => {
    const from = url.searchParams.get('from') ?? nodeOwner(ctx)
    if (!isDid(did) || !from || !isDid(from)) throw new HttpError(400, 'BAD_INPUT', 'expected a did:key to score and ?from={did}')
    sendJson(res, 200, scoreAnswer(ctx, from, did))
  })
}

