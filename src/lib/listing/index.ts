/**
 * What a home holds (issue 19 point 3): `polar ls` (object records, of one
 * owner) and `polar status` (counts of the store). The queries live in RecordStore and BlockStore; these shapes are shared by the embedded client and the node's local API
 * (node/listing-api.ts), so both answer alike.
 */
import type {OwnedObjectRow} from '../records/record-store.js'
import type {Store} from '../store/store.js'

/** One row of `polar ls`: the record's fields and the replica target (RecordStore.listByOwner). */
export type ListedObject = OwnedObjectRow

/** The object records of `owner` held here, newest first (one row per record: two versions are two rows). */
export function listObjects(store: Store, owner: string, limit = 1000): ListedObject[] {
  return store.records.listByOwner(owner, limit)
}

export interface StoreCounts {
  /** Distinct object roots with a record here. */
  objects: number
  /** Object records (versions, owners) here. */
  records: number
  blocks: number
  /** Bytes of the blocks indexed. */
  bytes: number
  /** Bytes of the pack files on disk (blocks plus what erase and repair left to compact). */
  packBytes: number
}

export function storeCounts(store: Store): StoreCounts {
  const r = store.records.objectCounts()
  const b = store.blocks.stats()
  return {objects: r.objects, records: r.records, blocks: b.blocks, bytes: b.bytes, packBytes: b.packBytes}
}
