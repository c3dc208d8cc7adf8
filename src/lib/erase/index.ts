/**
 * Erase (draft 000 "Erase", DESIGN.md "Records"): owner-signed erase records,
 * tombstones, and the mark-and-sweep that deletes the blocks no remaining
 * object needs. docs/protocol.md has the routes, docs/storage.md the tables.
 */
import type {Identity} from '../identity/index.js'
import type {Store} from '../store/store.js'
import {finishCompaction} from '../store/compact.js'
import {Erasures, signErasures} from './erasures.js'

export {Erasures, signErasures, MAX_ERASURES_PAGE, type Applied, type Applying, type ErasureRow} from './erasures.js'
export {eraseWorkOwed, finishEraseWork} from './resume.js'
export {unneededBlocks} from './sweep.js'

/** What an erase did (`polar erase`, through a node or not). */
export interface EraseResult {
  /** The CID the caller named (root or record). */
  cid: string
  erased: true
  /** Object records erased. */
  records: string[]
  /** Nodes (dids) that applied or already had the erase, this one first. */
  nodes: string[]
  /** Blocks deleted on this node. */
  blocks: number
}

/** `polar erase` with no node running: erases in this home's store only (no peers to tell). */
export function eraseLocal(store: Store, identity: Identity, cidText: string): EraseResult {
  const erasures = new Erasures(store)
  const signed = signErasures(erasures.recordsFor(cidText), identity)
  let blocks = 0
  for (const v of signed) blocks += erasures.apply(v).blocks
  return {cid: cidText, erased: true, records: signed.map((v) => v.object.cid.toString()), nodes: [], blocks}
}

/**
 * eraseLocal, then the compaction it left owed (packs mostly dead; the
 * command's embedded path). The sweep records the intent before it deletes,
 * so if this process dies part way, the next open finishes it (resume.ts).
 */
export async function eraseEmbedded(store: Store, identity: Identity, cidText: string): Promise<ReturnType<typeof eraseLocal> & {reclaimed: number}> {
  const result = eraseLocal(store, identity, cidText)
  const {reclaimed} = await finishCompaction(store.blocks)
  return {...result, reclaimed}
}
