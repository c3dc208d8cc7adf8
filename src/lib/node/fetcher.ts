import type {CID} from 'multiformats/cid'
import {readFile, type BlockSource} from '../content/reader.js'
import {IntegrityError, NetworkError, NotFoundError} from '../errors.js'
import type {PeerClient} from '../net/client.js'
import type {PackWriter} from '../store/block-store.js'
import type {Store} from '../store/store.js'
import type {PeerTable} from './peer-table.js'
import {rankNodes} from './placement.js'

/** Blocks fetched ahead of the one being written during a network read. */
export const NETWORK_PREFETCH = 16
/** How long a holder lookup waits for each peer. */
export const LOCATE_TIMEOUT_MS = 3_000

export interface Source {
  did: string
  client: PeerClient
}

export type Log = (message: string) => void

/**
 * Block source for reads through a node: the local store first; blocks it
 * lacks (or that fail verification there) come from peers, spread over them
 * block by block, each one verified, and are written to the local store as
 * they arrive — so an interrupted read resumes, and a corrupt local block is
 * replaced by a good copy (healing).
 */
export class NetworkBlockSource implements BlockSource {
  /** Local reads hash-check (BlockStore.get) and PeerClient.getBlock verifies: the reader need not hash again. */
  readonly verifiesBlocks = true
  private next = 0
  healed = 0
  fetched = 0

  constructor(
    protected readonly store: Store,
    protected readonly sources: Source[],
    protected readonly writer: PackWriter,
    private readonly peers: PeerTable,
    private readonly log: Log = () => {},
    /**
     * The root of the object being fetched, indexed only by `finish()` after
     * everything under it: "has the root" then means "has every block", as for
     * a push (repair and `has` judge holding by the root).
     */
    private readonly deferRoot?: CID,
  ) {}

  private rootBytes: Uint8Array | undefined
  private rootHeal = false

  /** Stores the deferred root; call once the whole object has been read. */
  async finish(): Promise<void> {
    if (this.deferRoot && this.rootBytes) await this.writer.put(this.deferRoot, this.rootBytes, {heal: this.rootHeal})
    this.rootBytes = undefined
  }

  /** One block from one peer, verified. Subclasses fetch differently (dynamic-source.ts: encoded blocks). */
  protected fetchBlock(src: Source, cid: CID, options: {signal?: AbortSignal}, _heal: boolean): Promise<Uint8Array> {
    return src.client.getBlock(cid, options)
  }

  async get(cid: CID, options: {signal?: AbortSignal} = {}): Promise<Uint8Array> {
    let heal = false
    try {
      return this.store.blocks.get(cid)
    } catch (err) {
      if (err instanceof IntegrityError) {
        heal = true
        this.log(`local block ${cid} failed verification; fetching a good copy from a peer`)
      } else if (!(err instanceof NotFoundError)) throw err
    }
    // A local copy that fails verification is an integrity failure (exit 4) when no peer can replace it, not "not found".
    if (this.sources.length === 0) {
      if (heal) throw new IntegrityError(`block ${cid} is corrupt in this node's store and no peer is known to hold a good copy`)
      throw new NotFoundError(`block ${cid} is not here and no peer is known to hold it`)
    }
    const start = this.next++ % this.sources.length
    let lastErr: unknown
    for (let i = 0; i < this.sources.length; i++) {
      const src = this.sources[(start + i) % this.sources.length]
      try {
        const bytes = await this.fetchBlock(src, cid, options, heal)
        if (this.deferRoot?.equals(cid)) {
          this.rootBytes = bytes
          this.rootHeal = heal
        } else await this.writer.put(cid, bytes, {heal})
        this.fetched++
        if (heal) this.healed++
        return bytes
      } catch (err) {
        if (options.signal?.aborted) throw err
        lastErr = err
        if (err instanceof IntegrityError) {
          const dropped = this.peers.markBadBlock(src.did)
          this.log(`peer ${src.did} sent a bad block ${cid}${dropped ? '; dropped it' : ''}`)
        } else if (err instanceof NetworkError) {
          this.peers.markFailure(src.did)
        }
      }
    }
    if (heal) throw new IntegrityError(`block ${cid} is corrupt in this node's store and none of ${this.sources.length} peer(s) could supply a good copy: ${(lastErr as Error)?.message}`)
    if (lastErr instanceof NetworkError) throw new NetworkError(`could not fetch block ${cid} from any of ${this.sources.length} peer(s): ${lastErr.message}`)
    throw new NotFoundError(`block ${cid}: none of ${this.sources.length} peer(s) has it`)
  }
}

/**
 * The peers to read `root` from: those that say they hold it, in placement
 * (rendezvous) order, then the rest of the live peers as a fallback.
 */
export async function locateHolders(root: CID, candidates: Source[], signal?: AbortSignal): Promise<{holders: Source[]; others: Source[]; answered: number}> {
  const ranked = rankNodes(root, candidates)
  const answers = await Promise.all(ranked.map(async (s) => {
    try {
      const [has] = await s.client.has([root], {signal, timeoutMs: LOCATE_TIMEOUT_MS})
      return has
    } catch {
      return undefined
    }
  }))
  return {holders: ranked.filter((_, i) => answers[i]), others: ranked.filter((_, i) => !answers[i]), answered: answers.filter((a) => a !== undefined).length}
}

/** Reads a whole object through `source` (fetching and storing what is missing), discarding the bytes. */
export async function fetchObject(root: CID, source: BlockSource, signal?: AbortSignal): Promise<number> {
  let size = 0
  for await (const chunk of readFile(root, source, {signal, prefetch: NETWORK_PREFETCH})) size += chunk.length
  return size
}
