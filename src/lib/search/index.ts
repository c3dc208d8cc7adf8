/**
 * Search (draft 000 "Search", issue 5): every node indexes the object
 * records it holds (object_search, FTS5); a search asks the local index and
 * a bounded number of peers in parallel under a deadline, keeps only peer
 * answers that are verified records matching the query, merges by object
 * CID and ranks by relevance × (1 + the owner's trust score).
 */
import {decodeObjectRecord} from '../records/object-record.js'
import {matches, relevance, type SearchQuery} from './query.js'
import type {LocalHit} from './local.js'

export {parseQuery, ftsExpression, relevance, matches, words, DEFAULT_LIMIT, MAX_LIMIT, type SearchQuery} from './query.js'
export {searchLocal, searchCandidates, type LocalHit} from './local.js'

/** Peers asked at once. */
export const SEARCH_CONCURRENCY = 8
/** Peers asked in all (the first ones the caller lists: live, nearest first). */
export const SEARCH_MAX_PEERS = 32
/** The whole fan-out gives up on peers that have not answered by then. */
export const SEARCH_TIMEOUT_MS = 3_000

export interface SearchResult {
  /** The object's root CID. */
  cid: string
  name: string
  size: number
  tags: string[]
  owner: string
  mime: string
  time: number
  /** CID of the signed record. */
  record: string
  /** relevance × (1 + trust). */
  score: number
  relevance: number
  /** The owner's trust score as seen by the searching node's owner. */
  trust: number
}

export interface SearchReport {
  results: SearchResult[]
  /** Peers asked, answered, and records they sent that were dropped (did not verify or did not match). */
  peers: {asked: number; answered: number; dropped: number}
}

/** One peer's side of a search: its raw answer, base64 dag-cbor object records. */
export interface PeerSearcher {
  did: string
  search(q: SearchQuery, signal: AbortSignal): Promise<unknown>
}

export interface SearchOptions {
  concurrency?: number
  maxPeers?: number
  timeoutMs?: number
  signal?: AbortSignal
}

/** Merges local hits and peers' answers; `trustOf(owner)` gives the owner's score (0 when unknown). */
export async function searchNetwork(q: SearchQuery, local: LocalHit[], peers: PeerSearcher[], trustOf: (owner: string) => number, options: SearchOptions = {}): Promise<SearchReport> {
  const best = new Map<string, SearchResult>()
  const trustCache = new Map<string, number>()
  const trust = (owner: string) => {
    let t = trustCache.get(owner)
    if (t === undefined) {
      t = trustOf(owner)
      t = Number.isFinite(t) && t > 0 ? Math.min(t, 3) : 0 // a score is at most MAX_HOPS; a peer's claim is clamped
      trustCache.set(owner, t)
    }
    return t
  }
  const offer = (r: {root: string; name: string; size: number; tags: string[]; owner: string; mime: string; time: number; record: string}) => {
    const rel = relevance(r, q.terms)
    const t = trust(r.owner)
    const result: SearchResult = {cid: r.root, name: r.name, size: r.size, tags: r.tags, owner: r.owner, mime: r.mime, time: r.time, record: r.record, score: rel * (1 + t), relevance: rel, trust: t}
    const old = best.get(r.root)
    if (!old || result.score > old.score || (result.score === old.score && result.time > old.time)) best.set(r.root, result)
  }
  for (const h of local) if (matches(h, q)) offer(h)

  const chosen = peers.slice(0, options.maxPeers ?? SEARCH_MAX_PEERS)
  const deadline = AbortSignal.timeout(options.timeoutMs ?? SEARCH_TIMEOUT_MS)
  const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline
  let answered = 0
  let dropped = 0
  const queue = chosen.slice()
  await Promise.all(Array.from({length: Math.min(options.concurrency ?? SEARCH_CONCURRENCY, queue.length)}, async () => {
    for (let p = queue.shift(); p && !signal.aborted; p = queue.shift()) {
      let answer: unknown
      try {
        answer = await p.search(q, signal)
      } catch {
        continue // unreachable, slow or refusing: the search goes on without it
      }
      answered++
      const list = (answer as {records?: unknown})?.records
      if (!Array.isArray(list)) continue
      for (const item of list.slice(0, q.limit)) {
        try {
          if (typeof item !== 'string' || item.length > 32 * 1024) throw new Error('not a base64 record')
          const signed = decodeObjectRecord(Buffer.from(item, 'base64'))
          const rec = signed.record
          const view = {root: rec.root.toString(), name: rec.name, size: rec.size, tags: rec.tags, owner: rec.owner, mime: rec.mime, time: rec.time, record: signed.cid.toString()}
          if (!matches(view, q)) throw new Error('does not match the query')
          offer(view)
        } catch {
          dropped++ // forged, malformed or off-topic: never shown
        }
      }
    }
  }))
  const results = [...best.values()].sort((a, b) => b.score - a.score || b.time - a.time || (a.cid < b.cid ? -1 : 1)).slice(0, q.limit)
  return {results, peers: {asked: chosen.length, answered, dropped}}
}

/** Query parameters of /v1/search and /api/v1/search. */
export function queryParams(q: SearchQuery & {query?: string}, extra: Record<string, string> = {}): URLSearchParams {
  const p = new URLSearchParams()
  p.set('q', q.query ?? q.terms.join(' '))
  for (const t of q.tags) p.append('tag', t)
  if (q.owner) p.set('owner', q.owner)
  p.set('limit', String(q.limit))
  for (const [k, v] of Object.entries(extra)) p.set(k, v)
  return p
}

/** Reads /v1/search and /api/v1/search parameters (InputError → 400 on bad ones). */
export function queryFromParams(p: URLSearchParams): {query: string; tags: string[]; owner?: string; limit?: number} {
  const limit = p.get('limit')
  return {query: p.get('q') ?? '', tags: p.getAll('tag'), owner: p.get('owner') ?? undefined, limit: limit === null ? undefined : /^\d{1,4}$/.test(limit) ? Number(limit) : NaN}
}
