/**
 * Search with no local node to fan out for us (issue 5; docs/architecture.md
 * "Search and trust"): against a remote node (its index, then its peers,
 * asked from here) or on the embedded store (its index, then the peers its
 * table lists). Every peer answer is verified and re-matched by
 * searchNetwork(); a node's answer goes through the same checks.
 */
import {NetworkError} from '../errors.js'
import {PeerClient} from '../net/peer/index.js'
import {parseQuery, queryParams, SEARCH_TIMEOUT_MS, searchCandidates, searchNetwork, type PeerSearcher, type SearchQuery, type SearchReport} from '../search/index.js'
import type {Store} from '../store/store.js'
import type {ClientSearchInput} from './index.js'

/** How long one peer's answer (and a remote node's peer list) may take. */
const PEER_TIMEOUT_MS = 3_000
/** At most this many of a remote node's peers are asked (SEARCH_MAX_PEERS is the fan-out's own cap). */
const REMOTE_PEERS_ASKED = 32

/** Builds searchers over the public API, and destroys their clients at the end. */
class Searchers {
  readonly clients: PeerClient[] = []
  constructor(private readonly q: SearchQuery, private readonly query: string) {}

  make(url: string, did: string, from?: string, onTrust?: (t: unknown) => void): PeerSearcher {
    const c = new PeerClient(url, {connections: 1})
    this.clients.push(c)
    return {did, search: async (_q, signal) => {
      const answer = await c.objects.search(queryParams({...this.q, query: this.query}, from ? {from} : {}), {signal, timeoutMs: PEER_TIMEOUT_MS})
      onTrust?.(answer?.trust)
      return answer
    }}
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.clients.map((c) => c.destroy()))
  }
}

/** The embedded store's index, then the live peers of its table; owners ranked by `self`'s trust here. */
export async function searchEmbedded(store: Store, input: ClientSearchInput, self: string | undefined): Promise<SearchReport> {
  const q = parseQuery(input)
  const searchers = new Searchers(q, input.query ?? '')
  try {
    const [{TrustStore}, {PeerTable}] = await Promise.all([import('../trust/store.js'), import('../node/peer-table.js')])
    const trust = new TrustStore(store.db)
    const peers = new PeerTable(store.db, '').live().map((p) => searchers.make(p.url, p.did))
    return await searchNetwork(q, searchCandidates(store.db, q), peers, (owner) => (self ? trust.score(self, owner, {withPaths: false}).score : 0))
  } finally {
    await searchers.close()
  }
}

/** A remote node's index first, asked once (it also scores owners from `self`), then its peers. */
export async function searchRemote(url: string, input: ClientSearchInput, self: string | undefined): Promise<SearchReport> {
  const q = parseQuery(input)
  const searchers = new Searchers(q, input.query ?? '')
  try {
    let trustMap: Record<string, unknown> = {}
    const first = searchers.make(url, 'node', self, (t) => {
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
      const list = await searchers.clients[0].discovery.peers({timeoutMs: PEER_TIMEOUT_MS})
      peers = (Array.isArray(list?.peers) ? list.peers : []).filter((p) => p && typeof p.url === 'string' && (p as any).state !== 'dead').slice(0, REMOTE_PEERS_ASKED).flatMap((p) => {
        try {
          return [searchers.make(p.url, p.did)]
        } catch {
          return [] // a peer URL that is not http(s): skip it
        }
      })
    } catch {}
    const trustOf = (owner: string) => (owner === self ? 1 : typeof trustMap[owner] === 'number' ? (trustMap[owner] as number) : 0)
    if (nodeError !== undefined && peers.length === 0) {
      throw new NetworkError(`${url} did not answer the search: ${(nodeError as Error).message}`)
    }
    // The node's answer goes through the same verification and merge as its peers'; the counts are the peers'.
    const node: PeerSearcher = {did: 'node', search: async () => {
      if (nodeError !== undefined) throw nodeError
      return nodeAnswer
    }}
    const report = await searchNetwork(q, [], [node, ...peers], trustOf)
    return {results: report.results, peers: {asked: report.peers.asked - 1, answered: report.peers.answered - (nodeError === undefined ? 1 : 0), dropped: report.peers.dropped}}
  } finally {
    await searchers.close()
  }
}
