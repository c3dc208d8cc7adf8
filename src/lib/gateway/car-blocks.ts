import * as dagPb from '@ipld/dag-pb'
import {UnixFS} from 'ipfs-unixfs'
import type {CID} from 'multiformats/cid'
import {DAG_CBOR_CODE, DAG_PB_CODE, RAW_CODE} from '../content/constants.js'
import {dagCborLinks} from '../content/dag-links.js'
import {walkAsync, type DagFrame, type DagLink} from '../content/dag-walk.js'
import {IntegrityError} from '../errors.js'
import {HttpError} from '../net/http.js'
import type {CarBlock} from './car.js'
import type {CarRequest, EntityBytes} from './negotiate.js'

/**
 * Which blocks a CAR holds, and in what order (trustless spec, "dag-scope",
 * "entity-bytes", "CAR dups"): the root, then the DAG under it depth-first
 * over content/dag-walk.ts, limited to what the scope and byte range ask for.
 */

/**
 * How deep a CAR walk goes before giving up. UnixFS files are at most
 * MAX_DAG_DEPTH (8) levels deep and records add one; a deeper DAG is hostile
 * (every level keeps its pending sibling links in memory).
 */
export const MAX_WALK_DEPTH = 32
/** Multihash code of the identity "hash": the block's bytes are the digest (multiformats/multicodec table.csv). */
const IDENTITY_CODE = 0x00
/** Codecs whose blocks never hold links (multicodec table: json, cbor). */
const JSON_CODE = 0x0200
const CBOR_CODE = 0x51
const LEAF_CODECS = new Set([RAW_CODE, JSON_CODE, CBOR_CODE])

export interface Plan {
  /** all: every link; block: the root only; hamt: a sharded directory's own shards (dag-scope=entity). */
  mode: 'all' | 'block' | 'hamt'
  /** Inclusive byte range of the root file still wanted (entity-bytes); undefined = all of it. */
  range?: ByteRange
}

export interface ByteRange {
  from: number
  to: number
}

/** A block of the walk; its note is the part of the file range still wanted under it (undefined: all of it). */
type Frame = DagFrame<ByteRange>

export function isIdentity(cid: CID): boolean {
  return cid.multihash.code === IDENTITY_CODE
}

/** True for the codecs whose links this gateway can follow (or that have none). */
export function canWalk(cid: CID): boolean {
  return LEAF_CODECS.has(cid.code) || cid.code === DAG_PB_CODE || cid.code === DAG_CBOR_CODE
}

/**
 * Decides which blocks a CAR holds (trustless spec, "dag-scope" and
 * "entity-bytes"). entity: a UnixFS file (or raw leaf) is all of its blocks,
 * or with entity-bytes only those covering the range; a sharded directory is
 * its shard nodes; any other node (plain directory, symlink, dag-cbor) is
 * its own block.
 */
export function planWalk(cid: CID, bytes: Uint8Array, car: CarRequest): Plan {
  if (car.scope === 'block') return {mode: 'block'}
  if (car.scope === 'all') return {mode: 'all'}
  if (cid.code === RAW_CODE) {
    if (car.entityBytes) resolveRange(car.entityBytes, bytes.length)
    return {mode: 'block'}
  }
  if (cid.code !== DAG_PB_CODE) return {mode: 'block'}
  const unixfs = decodeUnixfs(bytes)
  if (!unixfs) return {mode: 'block'}
  if (unixfs.type === 'hamt-sharded-directory') return {mode: 'hamt'}
  if (unixfs.type !== 'file' && unixfs.type !== 'raw') return {mode: 'block'}
  if (!car.entityBytes) return {mode: 'all'}
  const range = resolveRange(car.entityBytes, Number(unixfs.fileSize()))
  if (range === 'empty') return {mode: 'block'}
  return {mode: 'all', range: range === 'whole' ? undefined : range}
}

function decodeUnixfs(bytes: Uint8Array): UnixFS | undefined {
  try {
    const node = dagPb.decode(bytes)
    return node.Data ? UnixFS.unmarshal(node.Data) : undefined
  } catch {
    return undefined
  }
}

/**
 * entity-bytes against a file of `size` bytes: negative offsets count from
 * the end, `*` is the last byte, and the range is clipped to the file. A range
 * that starts past the end is a 400 (we know the size up front); one that
 * resolves to nothing is answered like dag-scope=block (trustless spec).
 */
function resolveRange(spec: EntityBytes, size: number): ByteRange | 'whole' | 'empty' {
  if (spec.from >= 0 && spec.from >= size && size > 0) {
    throw new HttpError(400, 'BAD_REQUEST', `entity-bytes ${spec.text} starts past the end of the ${size}-byte entity`)
  }
  const from = Math.max(0, spec.from < 0 ? size + spec.from : spec.from)
  const to = Math.min(size - 1, spec.to === '*' ? size - 1 : spec.to < 0 ? size + spec.to : spec.to)
  if (size === 0 || to < from) return 'empty'
  if (from === 0 && to === size - 1) return 'whole'
  return {from, to}
}

/**
 * The root's links for the walk, read before the gateway commits to 200 (so
 * that a root that cannot be walked is a clear 400 rather than a CAR cut
 * after its first block). IntegrityError when they cannot be read.
 */
export function rootLinks(cid: CID, bytes: Uint8Array, plan: Plan): DagLink<ByteRange>[] {
  if (plan.mode === 'block') return []
  return childrenOf({cid, note: plan.range, depth: 0, index: 0, siblings: []}, bytes, plan.mode)
}

/**
 * The blocks of the CAR in depth-first order (links in the order the block
 * lists them), the root first. With dups=n a block goes out once: a subtree
 * met again was sent in full the first time (depth-first finishes a subtree
 * before its siblings), so it is skipped whole. Blocks visited for part of a
 * range are remembered apart, since a later visit may need other children.
 * Identity blocks are never sent (trustless spec, "CAR dups"); their links are.
 * Memory: the pending links of the current path plus, for dups=n, one string
 * per distinct block sent.
 */
export function carBlocks(
  root: CarBlock, plan: Plan, links: DagLink<ByteRange>[], dups: boolean, load: (cid: CID) => Promise<Uint8Array>,
): AsyncGenerator<CarBlock> {
  const complete = new Set<string>()
  const partial = new Set<string>()
  const mode = plan.mode
  return walkAsync<ByteRange, CarBlock>({cid: root.cid, note: plan.range}, {
    load,
    rootBytes: root.bytes,
    maxDepth: MAX_WALK_DEPTH,
    skip: (frame) => !dups && frame.depth > 0 && complete.has(frame.cid.toString()),
    visit: (frame, bytes) => {
      const key = frame.cid.toString()
      const out = !isIdentity(frame.cid) && (dups || !partial.has(key)) ? {cid: frame.cid, bytes} : undefined
      if (!dups) (frame.note ? partial : complete).add(key)
      if (frame.depth === 0) return {links, out}
      return {links: mode === 'block' ? [] : childrenOf(frame, bytes, mode), out}
    },
  })
}

function childrenOf(frame: Frame, bytes: Uint8Array, mode: 'all' | 'hamt'): DagLink<ByteRange>[] {
  const {cid} = frame
  if (LEAF_CODECS.has(cid.code)) return []
  if (cid.code === DAG_CBOR_CODE) return dagCborLinks(cid, bytes)
  if (cid.code !== DAG_PB_CODE) throw new IntegrityError(`block ${cid} has codec 0x${cid.code.toString(16)}, whose links this gateway cannot read`)
  let node: dagPb.PBNode
  try {
    node = dagPb.decode(bytes)
  } catch (err) {
    throw new IntegrityError(`block ${cid} is not valid dag-pb: ${(err as Error).message}`)
  }
  if (mode === 'hamt') {
    const unixfs = node.Data ? UnixFS.unmarshal(node.Data) : undefined
    if (unixfs?.type !== 'hamt-sharded-directory' || unixfs.fanout === undefined) return []
    // A link named by the bucket index alone (fanout-1 in hex, padded) is a
    // sub-shard; a longer name is a directory entry, outside the entity.
    const pad = (Number(unixfs.fanout) - 1).toString(16).length
    return node.Links.filter((l) => (l.Name ?? '').length === pad).map((l) => ({cid: l.Hash}))
  }
  if (!frame.note) return node.Links.map((l) => ({cid: l.Hash}))
  return rangeChildren(frame, node)
}

/** The children of a UnixFS file node that hold bytes of the frame's range, each with its part of the range. */
function rangeChildren(frame: Frame, node: dagPb.PBNode): DagLink<ByteRange>[] {
  const unixfs = node.Data ? UnixFS.unmarshal(node.Data) : undefined
  if (!unixfs || (unixfs.type !== 'file' && unixfs.type !== 'raw') || unixfs.blockSizes.length !== node.Links.length) {
    throw new IntegrityError(`block ${frame.cid} is not a UnixFS file node whose links match its block sizes`)
  }
  const {from, to} = frame.note!
  const out: DagLink<ByteRange>[] = []
  // A file node's own data comes before its children's (UnixFS spec).
  let offset = unixfs.data?.length ?? 0
  for (let i = 0; i < node.Links.length; i++) {
    const size = Number(unixfs.blockSizes[i])
    const start = Math.max(from - offset, 0)
    const end = Math.min(to - offset, size - 1)
    if (start <= end) out.push({cid: node.Links[i].Hash, note: start === 0 && end === size - 1 ? undefined : {from: start, to: end}})
    offset += size
    if (offset > to) break
  }
  return out
}
