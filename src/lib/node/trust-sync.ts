import {KeyStore} from '../identity/index.js'
import {decodeTrustRecord} from '../records/trust-record.js'
import {TrustStore} from '../trust/store.js'
import type {Store} from '../store/store.js'
import type {ClientFor, Track} from './components.js'
import type {PeerTable} from './peer-table.js'

/**
 * The node's trust loop and gossip (it was trust/sync.ts; node-loop code
 * belongs in node/). What it uses of the node; a test passes fakes.
 */
export interface TrustSyncComponents {
  /** The node's home: its owner is the user key `default` there. */
  home: string
  store: Pick<Store, 'db'>
  peers: Pick<PeerTable, 'live'>
  client: ClientFor
  track: Track
}

/** dids asked of one peer per request. */
export const TRUST_BATCH = 256
/** Peers asked per sync pass. */
export const TRUST_SYNC_PEERS = 16

/**
 * The node's owner: the user identity `default` in its home (the key `push`
 * signs with). Its trust is 1 and its record decides everyone else's score
 * here. Undefined until that key exists (then every score but 1 is 0). Read
 * each time (a key file and one public-key derivation), so `keygen --force`
 * takes effect without a restart.
 */
export function nodeOwner(ctx: Pick<TrustSyncComponents, 'home'>): string | undefined {
  return new KeyStore(ctx.home).didOf()
}

export function trustStore(ctx: Pick<TrustSyncComponents, 'store'>): TrustStore {
  return new TrustStore(ctx.store.db)
}

/** Stores a trust record learned from anywhere; when it is new here, passes it on to live peers (gossip stops where it is not new). */
export function acceptTrust(ctx: TrustSyncComponents, bytes: Uint8Array, from?: string): {stored: boolean; owner: string; cid: string} {
  const {stored, signed} = trustStore(ctx).put(bytes)
  if (stored) {
    for (const p of ctx.peers.live().slice(0, TRUST_SYNC_PEERS)) {
      if (p.did === from) continue
      ctx.track(ctx.client(p).trust.put(signed.bytes, {timeoutMs: 5_000}).catch(() => {}))
    }
  }
  return {stored, owner: signed.record.owner, cid: signed.cid.toString()}
}

/**
 * One pass of the trust-sync loop: asks live peers for the records of every
 * identity within two hops of the owner (their records decide 3-hop scores),
 * keeps the newer ones that verify, and repeats while new identities come
 * into reach (at most three rounds: three hops).
 */
export async function syncTrustOnce(ctx: TrustSyncComponents, signal?: AbortSignal): Promise<{asked: number; stored: number}> {
  const owner = nodeOwner(ctx)
  if (!owner) return {asked: 0, stored: 0}
  const store = trustStore(ctx)
  const peers = ctx.peers.live().slice(0, TRUST_SYNC_PEERS)
  let stored = 0
  let asked = 0
  const done = new Set<string>()
  for (let round = 0; round < 3 && peers.length; round++) {
    const want = store.neighbourhood(owner).filter((d) => !done.has(d)).slice(0, TRUST_BATCH)
    if (want.length === 0) break
    for (const d of want) done.add(d)
    asked += want.length
    let fresh = 0
    await Promise.all(peers.map(async (p) => {
      let answer
      try {
        answer = await ctx.client(p).trust.get(want, {timeoutMs: 5_000, signal})
      } catch {
        return
      }
      const list = (answer as {records?: unknown})?.records
      if (!Array.isArray(list)) return
      for (const item of list.slice(0, want.length)) {
        if (typeof item !== 'string' || item.length > 32 * 1024) continue
        try {
          const bytes = Buffer.from(item, 'base64')
          if (!want.includes(decodeTrustRecord(bytes).record.owner)) continue // only what was asked for
          const r = store.put(bytes)
          if (r.stored) {
            stored++
            fresh++
          }
        } catch {
          // a record that does not verify is dropped
        }
      }
    }))
    if (fresh === 0) break
  }
  return {asked, stored}
}
