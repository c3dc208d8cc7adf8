import type {CID} from 'multiformats/cid'
import {IntegrityError} from '../errors.js'

/**
 * The one DAG walk (issue 14, point 3): the reader, the gateway's CARs, the
 * erase sweep, the holding check, repair and versions all go through
 * `dagWalk`. It knows the order (depth first, links in the order a block lists
 * them: a file's bytes in order, a CAR's `order=dfs`) and the depth limit;
 * what a block's links are, and whether to read a block at all, is the
 * caller's (dag-links.ts decodes the usual ones). This file imports no codec,
 * so the reader still loads dag-pb only when it meets a dag-pb node.
 */

/** A link to follow: the child's CID and what its parent says about it (a file's expected size, a byte range). */
export interface DagLink<N = undefined> {
  cid: CID
  note?: N
}

/** A block met by a walk, and where it sits. */
export interface DagFrame<N = undefined> extends DagLink<N> {
  /** Links followed from the root to reach it (the root is 0). */
  depth: number
  /** Its place among its parent's links, and those links (the same array for every sibling; the root: 0 of [root]). */
  index: number
  siblings: readonly DagLink<N>[]
}

export interface WalkLimits {
  /**
   * No block more than this many links below the root is reached: the links
   * of a block at this depth are refused (`tooDeep: 'throw'`, the default:
   * IntegrityError) or not followed (`'prune'`). Every level keeps its
   * pending sibling links in memory, so a hostile DAG is cut off here.
   */
  maxDepth: number
  tooDeep?: 'throw' | 'prune'
}

/**
 * The walk itself, as a coroutine, so that one walk serves synchronous
 * callers (the erase sweep runs inside a SQLite transaction) and asynchronous
 * ones (network reads): it yields each block to visit, and the caller answers
 * `next(links)` with the links to follow from it — nothing (or []) for a leaf,
 * a block it skips or a block it does not hold.
 */
export function * dagWalk<N = undefined>(root: DagLink<N>, limits: WalkLimits): Generator<DagFrame<N>, void, readonly DagLink<N>[] | undefined> {
  const top = [root]
  const stack: DagFrame<N>[] = [{cid: root.cid, note: root.note, depth: 0, index: 0, siblings: top}]
  while (stack.length > 0) {
    const frame = stack.pop()!
    const links = yield frame
    if (!links || links.length === 0) continue
    if (frame.depth >= limits.maxDepth) {
      if (limits.tooDeep === 'prune') continue
      throw new IntegrityError(`DAG under ${root.cid} goes more than ${limits.maxDepth} links deep (block ${frame.cid} has links at depth ${frame.depth})`)
    }
    const depth = frame.depth + 1
    for (let i = links.length - 1; i >= 0; i--) stack.push({cid: links[i].cid, note: links[i].note, depth, index: i, siblings: links})
  }
}

/**
 * Walks synchronously: `visit` gets each block in walk order and returns the
 * links to follow from it, nothing, or `false` to stop the whole walk. It
 * reads what it needs itself (or not: versions lists leaves without reading
 * them). Returns false when `visit` stopped it.
 */
export function walkSync<N = undefined>(root: DagLink<N>, limits: WalkLimits, visit: (frame: DagFrame<N>) => readonly DagLink<N>[] | undefined | void | false): boolean {
  const walk = dagWalk(root, limits)
  let step = walk.next()
  while (!step.done) {
    const links = visit(step.value)
    if (links === false) return false
    step = walk.next(links ?? undefined)
  }
  return true
}

/** What an asynchronous walk makes of one block: the links to follow, and a value to yield (none: nothing is yielded for it). */
export interface Visited<N, T> {
  links?: readonly DagLink<N>[]
  out?: T
}

export interface WalkAsyncOptions<N, T> extends WalkLimits {
  /** The bytes of a block (the caller verifies, or its source does). */
  load(cid: CID): Promise<Uint8Array> | Uint8Array
  /** The root's bytes when the caller has them already (the gateway reads the root before it answers 200). */
  rootBytes?: Uint8Array
  /** What to make of a loaded block. */
  visit(frame: DagFrame<N>, bytes: Uint8Array): Visited<N, T> | Promise<Visited<N, T>>
  /** True for a block to pass over without loading it (with its links: the gateway's dups=n). */
  skip?(frame: DagFrame<N>): boolean
  /** Told the links of each block before any of them is loaded (a network source asks for them in batches). */
  onLinks?(links: CID[]): void
  /**
   * Blocks loaded ahead, per block: while one link of a block is visited, up
   * to `prefetch - 1` of its next siblings are already being loaded (default
   * 1: one block at a time). Each level of the walk keeps its own window.
   */
  prefetch?: number
}

interface Window {
  /** Loads started, by sibling index, not yet taken. */
  pending: Map<number, Promise<Uint8Array>>
  /** The next sibling index to start. */
  next: number
}

/**
 * Walks asynchronously over `load`, with an ordered prefetch window per
 * block, and yields each `out` that `visit` returns, in walk order. A block's
 * links are checked against the depth limit before anything of the block is
 * yielded.
 */
export async function * walkAsync<N = undefined, T = Uint8Array>(root: DagLink<N>, options: WalkAsyncOptions<N, T>): AsyncGenerator<T> {
  const prefetch = Math.max(1, options.prefetch ?? 1)
  const windows = new WeakMap<readonly DagLink<N>[], Window>()
  const start = (link: DagLink<N>): Promise<Uint8Array> => {
    let p: Promise<Uint8Array>
    try {
      p = Promise.resolve(options.load(link.cid))
    } catch (err) {
      p = Promise.reject(err)
    }
    p.catch(() => {}) // handled when taken, in order
    return p
  }
  /** The bytes of `frame`, after starting the loads of its next siblings up to the window. */
  const take = (frame: DagFrame<N>): Promise<Uint8Array> | Uint8Array => {
    if (frame.depth === 0) return options.rootBytes ?? options.load(frame.cid)
    if (prefetch === 1) return options.load(frame.cid)
    let w = windows.get(frame.siblings)
    if (!w) windows.set(frame.siblings, (w = {pending: new Map(), next: frame.index}))
    while (w.next < frame.siblings.length && w.next < frame.index + prefetch) {
      w.pending.set(w.next, start(frame.siblings[w.next]))
      w.next++
    }
    const p = w.pending.get(frame.index) ?? start(frame)
    w.pending.delete(frame.index)
    return p
  }
  const walk = dagWalk(root, options)
  let step = walk.next()
  while (!step.done) {
    const frame = step.value
    if (options.skip?.(frame)) {
      windows.get(frame.siblings)?.pending.delete(frame.index)
      step = walk.next(undefined)
      continue
    }
    const bytes = await take(frame)
    const {links, out} = await options.visit(frame, bytes)
    step = walk.next(links)
    if (out !== undefined) yield out
    if (links && links.length > 0) options.onLinks?.(links.map((l) => l.cid))
  }
}
