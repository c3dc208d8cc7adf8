import type {CID} from 'multiformats/cid'
import {readFile, type BlockSource} from '../content/reader.js'
import {IntegrityError, NetworkError, NotFoundError, PolarError, toPolarError} from '../errors.js'
import type {PeerClient} from '../net/peer/index.js'
import type {PackWriter} from '../store/block-store.js'
import type {Store} from '../store/store.js'
import type {PeerTable} from './peer-table.js'
import {rankNodes} from './placement.js'
import {sharedAlloc, verifyMany} from '../content/hash-pool.js'
import {MAX_BLOCK_SIZE, RAW_CODE} from '../content/constants.js'
import {BlockPool, releaseBlock} from '../util/block-pool.js'

/** Blocks fetched ahead of the one being written during a network read. */
export const NETWORK_PREFETCH = 16
/** Blocks per batched request (POST /v1/blocks/get), and how far ahead of the reader batches are asked for. */
export const BATCH_BLOCKS = 8
export const BATCH_AHEAD = 32
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
  /** Local reads hash-check (BlockStore.get) and PeerClient.blocks.get verifies: the reader need not hash again. */
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

  /** The reader's next blocks, in order (BlockSource.onLinks): missing ones are fetched in batches. */
  onLinks(cids: CID[]): void {
    if (cids.length === 0) return
    this.planned = cids
    this.planIndex = new Map(cids.map((c, i) => [c.toString(), i]))
    this.frontier = 0
  }

  /**
   * Fetch planned blocks in batches (POST /v1/blocks/get). Off by default: the
   * pull and replicate routes turn it on (whole objects); healing fetches one
   * block. (Batched replication once stalled behind a partition; most likely
   * the hello recursion fixed in d64899d, not proven: the partition and kill
   * scenarios pass with it on, quick 4 times and full once.)
   */
  batching = false

  /** Index in `planned` of the first block not yet considered for a batch. */
  private frontier = 0
  /** Batches asked for so far. */
  private batches = 0

  private planned: CID[] = []
  private planIndex = new Map<string, number>()
  /** Blocks asked for in a batch and not yet taken by get(): the verified bytes, or undefined (fetch it singly). */
  private batched = new Map<string, Promise<Uint8Array | undefined>>()

  /** Planned blocks already asked for (or found here): each is batched at most once. */
  private taken = new Set<string>()

  /**
   * Memory for batched raw leaves (util/block-pool.ts): reused, page-aligned,
   * hashed as the bytes arrive (net/peer/bulk.ts) and written with O_DIRECT. The reader yields raw leaves
   * as they are, and whoever consumes a yielded chunk releases it
   * (releaseBlock); other blocks get ordinary shared memory.
   */
  /** @internal (tests read its counters) */
  pool: BlockPool | undefined
  private readonly allocBlock = (size: number, cid: CID): Buffer => {
    if (cid.code !== RAW_CODE) return sharedAlloc(size)
    try {
      this.pool ??= new BlockPool()
    } catch {
      return sharedAlloc(size) // no WebAssembly memory here: plain shared memory
    }
    return this.pool.alloc(size)
  }

  /**
   * Keeps the planned blocks from `key` up to BATCH_AHEAD further asked for,
   * BATCH_BLOCKS per request, spread over the sources. Blocks already here
   * are left to the local read.
   */
  private batchAhead(key: string, signal?: AbortSignal): void {
    const at = this.planIndex.get(key)
    if (at === undefined) return
    // Whole batches only (the last one excepted): top up once the asked-for
    // frontier is less than BATCH_AHEAD blocks ahead of the reader.
    const want = Math.min(this.planned.length, at + BATCH_AHEAD)
    while (this.frontier < want) {
      const batch: CID[] = []
      // The first batches are small (1, 2, 4 blocks): the peer answers a small one
      // sooner, so the disk starts writing while the full-size ones are read.
      const size = Math.min(BATCH_BLOCKS, 2 ** this.batches)
      while (batch.length < size && this.frontier < this.planned.length) {
        const c = this.planned[this.frontier++]
        const k = c.toString()
        if (this.taken.has(k)) continue
        this.taken.add(k)
        if (!this.store.blocks.has(c)) batch.push(c)
      }
      if (batch.length > 0) {
        this.batches++
        this.fetchBatch(batch, signal)
      }
    }
  }

  /**
   * One batched request. Every block in the answer is verified; good ones are
   * stored and handed to get(), missing or bad ones resolve undefined and are
   * fetched again singly (from every source in turn), so a batch never
   * decides a failure on its own.
   */
  private fetchBatch(cids: CID[], signal?: AbortSignal): void {
    const src = this.sources[this.next++ % this.sources.length]
    const work = (async (): Promise<Map<string, Uint8Array>> => {
      const got = new Map<string, Uint8Array>()
      let blocks
      try {
        const ask = await this.batchable(cids)
        if (ask.length === 0) return got
        blocks = await src.client.blocks.getManyUnverified(ask, {signal, alloc: this.allocBlock, discard: releaseBlock})
      } catch (err) {
        if (err instanceof IntegrityError) this.badBlockFrom(src, cids[0])
        // A peer without the batch route (404/405) is not failing: its blocks come singly.
        else if (err instanceof NetworkError && err.code !== 'METHOD_NOT_ALLOWED') this.peers.markFailure(src.did)
        return got
      }
      // Blocks the bulk client hashed as they arrived are compared here; the rest go to the hash pool.
      const rest = await verifyMany(blocks.filter((b) => !b.sha256))
      let r = 0
      for (let i = 0; i < blocks.length; i++) {
        const {cid, bytes, sha256} = blocks[i]
        const ok = sha256 ? bytes.length <= MAX_BLOCK_SIZE && Buffer.compare(sha256, cid.multihash.digest) === 0 : rest[r++]
        if (!ok) {
          releaseBlock(bytes)
          this.badBlockFrom(src, cid)
          continue
        }
        await this.writer.put(cid, bytes)
        this.fetched++
        got.set(cid.toString(), bytes)
      }
      return got
    })()
    work.catch(() => {})
    for (const c of cids) {
      const k = c.toString()
      this.batched.set(k, work.then((m) => m.get(k), () => undefined))
    }
  }

  private badBlockFrom(src: Source, cid: CID): void {
    const dropped = this.peers.markBadBlock(src.did)
    this.log(`peer ${src.did} sent a bad block ${cid}${dropped ? '; dropped it' : ''}`)
  }

  /** Which of `cids` to fetch raw in a batch; the rest are fetched by fetchBlock (dynamic-source.ts keeps blocks it can get encoded). */
  protected batchable(cids: CID[]): CID[] | Promise<CID[]> {
    return cids
  }

  /** One block from one peer, verified. Subclasses fetch differently (dynamic-source.ts: encoded blocks). */
  protected fetchBlock(src: Source, cid: CID, options: {signal?: AbortSignal}, _heal: boolean): Promise<Uint8Array> {
    return src.client.blocks.get(cid, options)
  }

  async get(cid: CID, options: {signal?: AbortSignal} = {}): Promise<Uint8Array> {
    if (this.batching && this.sources.length > 0) {
      const key = cid.toString()
      this.batchAhead(key, options.signal)
      // A block asked for in a batch is taken from it even when a checkpoint has
      // stored it meanwhile: reading it back would cost a disk read and a hash,
      // and leave its pool slot unreleased.
      const pending = this.batched.get(key)
      if (pending) {
        this.batched.delete(key)
        const bytes = await pending
        if (bytes) return bytes
        options.signal?.throwIfAborted()
      }
    }
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
    /** Peers that answered with bytes that do not hash to the CID (issue 20: that was reported as "none has it"). */
    const liars: string[] = []
    for (let i = 0; i < this.sources.length; i++) {
      const src = this.sources[(start + i) % this.sources.length]
      let bytes: Uint8Array
      try {
        bytes = await this.fetchBlock(src, cid, options, heal)
      } catch (err) {
        if (options.signal?.aborted) throw err
        // Only a peer's answer is the peer's fault; anything else (a full disk while a
        // fetched block was stored, a database error) is this node's and ends the read.
        if (!(err instanceof PolarError)) throw localError(err)
        lastErr = err
        if (err instanceof IntegrityError) {
          liars.push(src.did)
          const dropped = this.peers.markBadBlock(src.did)
          this.log(`peer ${src.did} sent a bad block ${cid}${dropped ? '; dropped it' : ''}`)
        } else if (err instanceof NetworkError) {
          this.peers.markFailure(src.did)
        }
        continue
      }
      try {
        if (this.deferRoot?.equals(cid)) {
          this.rootBytes = bytes
          this.rootHeal = heal
        } else await this.writer.put(cid, bytes, {heal})
      } catch (err) {
        throw localError(err)
      }
      this.fetched++
      if (heal) this.healed++
      return bytes
    }
    if (heal) throw new IntegrityError(`block ${cid} is corrupt in this node's store and none of ${this.sources.length} peer(s) could supply a good copy: ${(lastErr as Error)?.message}`)
    if (liars.length > 0) throw new IntegrityError(`block ${cid}: ${liars.length === 1 ? 'peer' : 'peers'} ${liars.join(', ')} served bytes that do not hash to it${liars.length < this.sources.length ? `, and the other ${this.sources.length - liars.length} peer(s) did not have it` : ''}`)
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
      const [has] = await s.client.blocks.has([root], {signal, timeoutMs: LOCATE_TIMEOUT_MS})
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
  for await (const chunk of readFile(root, source, {signal, prefetch: NETWORK_PREFETCH})) {
    size += chunk.length
    releaseBlock(chunk) // counted and dropped: a pooled block's slot goes back
  }
  return size
}

/** A local failure as the error callers report: a full disk is NO_SPACE (exit 1), not a missing block. */
function localError(err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException)?.code
  return code === 'ENOSPC' || code === 'SQLITE_FULL' ? toPolarError(err) : err
}
