import * as dagCbor from '@ipld/dag-cbor'
import * as dagPb from '@ipld/dag-pb'
import {CID} from 'multiformats/cid'
import {IntegrityError} from '../errors.js'
import {DAG_PB_CODE, MAX_DAG_DEPTH} from './constants.js'
import {walkSync, type DagLink} from './dag-walk.js'

/**
 * Links of the block kinds polar meets, for dag-walk.ts, and the walk over
 * the blocks a store holds. Decoders are loaded with this file, so the reader
 * does not import it (it decodes UnixFS file nodes itself, lazily).
 */

/** The links of a dag-pb node, in order. Throws the decoder's error for bytes that are not dag-pb. */
export function dagPbLinks<N = undefined>(bytes: Uint8Array): DagLink<N>[] {
  return dagPb.decode(bytes).Links.map((l) => ({cid: l.Hash}))
}

/** Every CID in a decoded dag-cbor value, in document order. */
export function cborLinks(value: unknown): CID[] {
  const out: CID[] = []
  const stack: unknown[] = [value]
  while (stack.length > 0) {
    const v = stack.pop()
    if (v === null || typeof v !== 'object' || v instanceof Uint8Array) continue
    const cid = CID.asCID(v)
    if (cid) {
      out.push(cid)
      continue
    }
    const items = Array.isArray(v) ? v : Object.values(v)
    for (let i = items.length - 1; i >= 0; i--) stack.push(items[i])
  }
  return out
}

/** The links of a dag-cbor block; IntegrityError when it does not decode. */
export function dagCborLinks<N = undefined>(cid: CID, bytes: Uint8Array): DagLink<N>[] {
  let value: unknown
  try {
    value = dagCbor.decode(bytes)
  } catch (err) {
    throw new IntegrityError(`block ${cid} is not valid dag-cbor: ${(err as Error).message}`)
  }
  return cborLinks(value).map((c) => ({cid: c}))
}

/** Blocks held somewhere (a BlockStore): `get` returns verified bytes or throws. */
export interface HeldBlocks {
  has(cid: CID): boolean
  get(cid: CID): Uint8Array
}

/**
 * Calls `visit` for every block of the DAG under `root` that `blocks` holds,
 * following dag-pb links (raw leaves have none) at most MAX_DAG_DEPTH links
 * deep: the walk of the erase sweep and of the check that drops a refused
 * object's blocks. A block that is missing or fails verification is not
 * descended into: its links cannot be trusted, so nothing under it is reached
 * through it. `seen` (which several walks may share) skips blocks met before;
 * `visit` returning false stops the walk, and walkHeld then returns false.
 */
export function walkHeld(blocks: HeldBlocks, root: CID, seen: Set<string>, visit: (cid: CID, key: string) => boolean): boolean {
  return walkSync({cid: root}, {maxDepth: MAX_DAG_DEPTH, tooDeep: 'prune'}, ({cid}) => {
    const key = cid.toString()
    if (seen.has(key)) return
    seen.add(key)
    if (!blocks.has(cid)) return
    if (!visit(cid, key)) return false
    if (cid.code !== DAG_PB_CODE) return
    try {
      return dagPbLinks(blocks.get(cid))
    } catch {
      return
    }
  })
}

/**
 * True when every block of the DAG under `root` is in `blocks` and every
 * dag-pb node in it decodes (polar repair's "records that miss blocks").
 * dag-cbor blocks are leaves here, as in a UnixFS file.
 */
export function holdsWholeDag(blocks: HeldBlocks, root: CID): boolean {
  const seen = new Set<string>()
  let whole = true
  walkSync({cid: root}, {maxDepth: Infinity}, ({cid}) => {
    const key = cid.toString()
    if (seen.has(key)) return
    seen.add(key)
    if (!blocks.has(cid)) return (whole = false)
    if (cid.code !== DAG_PB_CODE) return
    try {
      return dagPbLinks(blocks.get(cid))
    } catch {
      return (whole = false)
    }
  })
  return whole
}
