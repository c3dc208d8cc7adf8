import {InputError, IntegrityError, NetworkError} from '../errors.js'
import {isDid, type Identity} from '../identity/index.js'
import type {LocalNodeClient} from './client.js'
import {PeerClient} from '../net/peer/index.js'
import {decodeTrustRecord, signTrustRecord, type TrustEntry} from '../records/trust-record.js'
import {parseQuery, queryParams, SEARCH_TIMEOUT_MS, searchCandidates, searchNetwork, type PeerSearcher, type SearchReport} from '../search/index.js'
import type {Store} from '../store/store.js'
import {changeEntries, type TrustChange} from '../trust/change.js'
import {TrustStore} from '../trust/store.js'
import type {TrustPath} from '../trust/score.js'

/** Where search and trust commands act (see PolarCommand.target). */
export type Via =
  | {kind: 'local'; client: LocalNodeClient}
  | {kind: 'remote'; url: string}
  | {kind: 'embedded'; store: Store}

export interface SearchInput {
  query?: string
  tags?: string[]
  owner?: string
  limit?: number
  /** Whose trust ranks the results (your identity). */
  self?: string
}

/**
 * Searches through a node (it fans out to its peers), against a remote node
 * (its index, then its peers, asked from here), or on the embedded store
 * (its index, then the peers its table lists). Every peer answer is verified here or by the node.
 */
export async function search(via: Via, input: SearchInput): Promise<SearchReport> {
  const q = parseQuery(input)
  const query = input.query ?? ''
  if (via.kind === 'local') {
    const p = queryParams({...q, query}, input.self ? {from: input.self} : {})
    return via.client.json('GET', `/api/v1/search?${p}`)
  }
  const clients: PeerClient[] = []
  const searcher = (url: string, did: string, from?: string, onTrust?: (t: unknown) => void): PeerSearcher => {
    const c = new PeerClient(url, {connections: 1})
    clients.push(c)
    return {did, search: async (_q, signal) => {
      const answer = await c.objects.search(queryParams({...q, query}, from ? {from} : {}), {signal, timeoutMs: 3_000})
      onTrust?.(answer?.trust)
      return answer
    }}
  }
  try {
    if (via.kind === 'embedded') {
      const trust = new TrustStore(via.store.db)
      const {PeerTable} = await import('../node/peer-table.js')
      const peers = new PeerTable(via.store.db, '').live().map((p) => searcher(p.url, p.did))
      return await searchNetwork(q, searchCandidates(via.store.db, q), peers, (owner) => (input.self ? trust.score(input.self, owner, {withPaths: false}).score : 0))
    }
    // Remote: that node's index first, asked once (it also scores owners from `self`), then its peers.
    let trustMap: Record<string, unknown> = {}
    const first = searcher(via.url, 'node', input.self, (t) => {
      if (t && typeof t === 'object') trustMap = t as Record<string, unknown>
    })
    let nodeAnswer: unknown
    let nodeError: unknown
    try {
      nodeAnswer = await first.search(q, AbortSignal.timeout(SEARCH_TIMEOUT_MS))
    } catch (err) {
      nodeError = err
    }
    let peers: PeerSearcher[] = []
    try {
      const list = await clients[0].discovery.peers({timeoutMs: 3_000})
      peers = (Array.isArray(list?.peers) ? list.peers : []).filter((p) => p && typeof p.url === 'string' && (p as any).state !== 'dead').slice(0, 32).flatMap((p) => {
        try {
          return [searcher(p.url, p.did)]
        } catch {
          return [] // a peer URL that is not http(s): skip it
        }
      })
    } catch {}
    const trustOf = (owner: string) => (owner === input.self ? 1 : typeof trustMap[owner] === 'number' ? (trustMap[owner] as number) : 0)
    if (nodeError !== undefined && peers.length === 0) {
      throw new NetworkError(`${via.url} did not answer the search: ${(nodeError as Error).message}`)
    }
    // The node's answer goes through the same verification and merge as its peers'; the counts are the peers'.
    const node: PeerSearcher = {did: 'node', search: async () => {
      if (nodeError !== undefined) throw nodeError
      return nodeAnswer
    }}
    const report = await searchNetwork(q, [], [node, ...peers], trustOf)
    return {results: report.results, peers: {asked: report.peers.asked - 1, answered: report.peers.answered - (nodeError === undefined ? 1 : 0), dropped: report.peers.dropped}}
  } finally {
    await Promise.allSettled(clients.map((c) => c.destroy()))
  }
}

/** The current trust record of `owner` where `via` points, verified (null when there is none). */
async function currentRecord(via: Via, owner: string): Promise<{entries: TrustEntry[]; time: number} | null> {
  let b64: string | null
  if (via.kind === 'embedded') {
    const b = new TrustStore(via.store.db).bytesOf(owner)
    b64 = b ? Buffer.from(b).toString('base64') : null
  } else if (via.kind === 'local') {
    b64 = (await via.client.json('GET', `/api/v1/trust/${owner}`))?.record ?? null
  } else {
    const c = new PeerClient(via.url, {connections: 1})
    try {
      b64 = await c.trust.record(owner, {timeoutMs: 15_000})
    } finally {
      await c.destroy()
    }
  }
  if (b64 === null) return null
  if (typeof b64 !== 'string') throw new IntegrityError('the node answered with a trust record that is not base64 text')
  const {record} = decodeTrustRecord(Buffer.from(b64, 'base64'))
  if (record.owner !== owner) throw new IntegrityError(`asked for ${owner}'s trust record, got ${record.owner}'s`)
  return {entries: record.trusts.map((e) => ({did: e.did, weight: e.weight})), time: record.time}
}

export interface TrustChangeResult {
  owner: string
  trusts: TrustEntry[]
  record: string
  stored: boolean
}

/** `trust add` / `trust rm`: re-signs `identity`'s record with the change and publishes it through `via`. */
export async function changeTrust(via: Via, identity: Identity, change: TrustChange): Promise<TrustChangeResult> {
  if (!isDid(change.did)) throw new InputError(`not an ed25519 did:key: ${JSON.stringify(change.did.slice(0, 80))}`)
  const current = await currentRecord(via, identity.did)
  const entries = changeEntries(identity.did, current?.entries ?? [], change)
  // Newer than what is out there, even with a clock behind: newest wins everywhere.
  const signed = signTrustRecord(entries, identity, Math.max(Date.now(), (current?.time ?? 0) + 1))
  let stored: boolean
  if (via.kind === 'embedded') stored = new TrustStore(via.store.db).put(signed.bytes).stored
  else if (via.kind === 'local') stored = (await via.client.json('POST', '/api/v1/trust', {record: Buffer.from(signed.bytes).toString('base64')})).stored
  else {
    const c = new PeerClient(via.url, {connections: 1})
    try {
      stored = (await c.trust.put(signed.bytes, {timeoutMs: 15_000})).stored
    } finally {
      await c.destroy()
    }
  }
  return {owner: identity.did, trusts: signed.record.trusts, record: signed.cid.toString(), stored}
}

export async function listTrust(via: Via, owner: string): Promise<TrustEntry[]> {
  return (await currentRecord(via, owner))?.entries ?? []
}

export interface ScoreResult {
  did: string
  score: number
  /** The largest contributing paths, at most 100. */
  paths: TrustPath[]
  /** How many paths contribute in all. */
  pathCount: number
}

export async function scoreTrust(via: Via, self: string, did: string): Promise<ScoreResult> {
  if (!isDid(did)) throw new InputError(`not an ed25519 did:key: ${JSON.stringify(did.slice(0, 80))}`)
  let r: any
  if (via.kind === 'embedded') r = new TrustStore(via.store.db).score(self, did)
  else if (via.kind === 'local') r = await via.client.json('GET', `/api/v1/trust/${did}/score?from=${encodeURIComponent(self)}`)
  else {
    const c = new PeerClient(via.url, {connections: 1})
    try {
      r = await c.trust.score(did, self, {timeoutMs: 15_000})
    } finally {
      await c.destroy()
    }
  }
  if (typeof r?.score !== 'number' || !Array.isArray(r?.paths)) throw new IntegrityError('the node answered a trust score in an unexpected shape')
  return {did, score: r.score, paths: r.paths, pathCount: typeof r.pathCount === 'number' ? r.pathCount : r.paths.length}
}

/** What `trust add` / `trust rm` say after a change, on stderr. */
export function changeNote(did: string, r: {trusts: unknown[]; stored: boolean}): string {
  const n = r.trusts.length
  return `${did} now trusts ${n} identit${n === 1 ? 'y' : 'ies'}; ${r.stored ? 'record published' : 'record not stored: the node already holds it or a newer one'}`
}
