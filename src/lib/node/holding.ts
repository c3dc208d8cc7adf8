import {statfsSync} from 'node:fs'
import {CID} from 'multiformats/cid'
import type {BlockSource} from '../content/reader.js'
import {DAG_PB_CODE, RAW_CODE} from '../content/constants.js'
import {walkHeld} from '../content/dag-links.js'
import {IntegrityError} from '../errors.js'
import {HttpError} from '../net/http.js'
import type {PackWriter} from '../store/block-store.js'
import type {Store} from '../store/store.js'
import type {NodeSettings} from './node-settings.js'

/**
 * What a node agrees to hold for others (issue 20, DESIGN.md "What a hostile
 * peer must never achieve": fill its disk with bytes no record it agreed to
 * hold needs). Blocks come in only for an object whose record the node took
 * (a replication a peer asked for, an admitted remote write), only up to the
 * record's size, and the blocks a refused object left behind are removed.
 */

/**
 * Refuses an object of `size` bytes before a byte of it is fetched or
 * uploaded: 413 over `maxObjectBytes`, 507 NO_SPACE over the free space of
 * the disk holding POLAR_HOME.
 */
export function checkObjectSize(ctx: {home: string; settings: Pick<NodeSettings, 'maxObjectBytes'>}, size: number): void {
  const max = ctx.settings.maxObjectBytes
  if (size > max) throw new HttpError(413, 'TOO_LARGE', `the record declares ${size} bytes; this node takes objects of at most ${max} bytes from others (setting maxObjectBytes)`)
  let free = Infinity
  try {
    const s = statfsSync(ctx.home)
    free = Number(s.bavail) * Number(s.bsize)
  } catch {}
  if (size > free) throw new HttpError(507, 'NO_SPACE', `the record declares ${size} bytes and the disk holding this node's store has ${free} bytes free`)
}

/**
 * A writer that remembers which blocks it appended (not those the store
 * already had), so that a refused object's can be dropped
 * (dropUnreferenced). Every other member is the writer's own.
 */
export function trackingWriter(writer: PackWriter): {writer: PackWriter; appended: CID[]} {
  const appended: CID[] = []
  const tracked = new Proxy(writer, {
    get(target, prop) {
      if (prop === 'put' || prop === 'putEncoded') {
        return async (cid: CID, ...rest: unknown[]) => {
          const had = target.took(cid)
          await (target[prop] as (...a: unknown[]) => Promise<void>)(cid, ...rest)
          if (!had && target.took(cid)) appended.push(cid)
        }
      }
      const v = Reflect.get(target, prop, target)
      return typeof v === 'function' ? v.bind(target) : v
    },
  })
  return {writer: tracked, appended}
}

/**
 * After a refused object: deletes the blocks of `appended` that got indexed
 * (a writer indexes at checkpoints and when it moves to a new pack) and that
 * no live object record needs, through BlockStore.deleteBlocks, the one way
 * blocks leave the store. Bytes never indexed were already cut off by the
 * writer's abort. Returns what was deleted.
 */
export function dropUnreferenced(store: Store, appended: CID[]): {blocks: number; bytes: number} {
  const candidates = new Map<string, CID>()
  for (const cid of appended) if (store.blocks.has(cid)) candidates.set(cid.toString(), cid)
  if (candidates.size === 0) return {blocks: 0, bytes: 0}
  // Mark: whatever a live record's DAG reaches stays (another object may share a block).
  const seen = new Set<string>()
  for (const text of store.records.liveRoots()) {
    if (candidates.size === 0) break
    let root: CID
    try {
      root = CID.parse(text)
    } catch {
      continue
    }
    walkHeld(store.blocks, root, seen, (_cid, key) => {
      candidates.delete(key)
      return candidates.size > 0
    })
  }
  if (candidates.size === 0) return {blocks: 0, bytes: 0}
  const r = store.blocks.deleteBlocks([...candidates.values()])
  return {blocks: r.deleted, bytes: r.bytes}
}

/**
 * A block source for fetching an object a record describes: the root must
 * declare the record's size (a raw root holds exactly that many bytes, a
 * dag-pb root declares it as its file size), and no more than `limit` bytes of
 * blocks are taken in all (the file plus its DAG's interior nodes), so a
 * record cannot make this node fetch more than it says.
 */
export class SizedSource implements BlockSource {
  private taken = 0
  readonly verifiesBlocks: boolean | undefined
  readonly onLinks: ((links: CID[]) => void) | undefined

  constructor(private readonly inner: BlockSource, private readonly root: CID, private readonly size: number, private readonly limit = size + Math.max(4 * 1024 * 1024, Math.ceil(size / 16))) {
    this.verifiesBlocks = inner.verifiesBlocks
    this.onLinks = inner.onLinks?.bind(inner)
  }

  async get(cid: CID, options?: {signal?: AbortSignal}): Promise<Uint8Array> {
    const bytes = await this.inner.get(cid, options)
    this.taken += bytes.length
    if (cid.equals(this.root)) {
      const declared = cid.code === RAW_CODE ? bytes.length : cid.code === DAG_PB_CODE ? (await import('../content/dag-node.js')).decodeFileNode(cid, bytes).fileSize : undefined
      if (declared !== undefined && declared !== this.size) throw new IntegrityError(`the record says ${this.size} bytes but its root ${cid} declares ${declared}`)
    }
    if (this.taken > this.limit) throw new IntegrityError(`the DAG of ${this.root} holds more than the ${this.limit} bytes its record (${this.size} bytes) allows`)
    return bytes
  }
}
