import type {StoredObject} from '../records/record-store.js'
import type {Database} from '../store/db.js'
import {ftsExpression, type SearchQuery} from './query.js'

/** A stored object record (RecordStore's row) with its record CID as `record`, and its signed bytes. */
export type LocalHit = Omit<StoredObject, 'cid'> & {record: string; bytes: Uint8Array}

/**
 * Searches the object records this node holds (object_search, FTS5): words
 * as prefix terms, tags exactly, owner exactly; best bm25 first (newest
 * first without words). Only records the node chose to hold are in the index.
 */
export function searchLocal(db: Database, q: SearchQuery): LocalHit[] {
  const where: string[] = ["r.kind = 'object'"]
  const params: unknown[] = []
  let from = 'records r'
  let order = 'r.time DESC'
  if (q.terms.length) {
    from = 'object_search s JOIN records r ON r.rowid = s.rowid'
    where.push('object_search MATCH ?')
    params.push(ftsExpression(q.terms))
    order = 'bm25(object_search), r.time DESC'
  }
  if (q.owner !== undefined) {
    where.push('r.owner = ?')
    params.push(q.owner)
  }
  for (const t of q.tags) {
    where.push('r.cid IN (SELECT record FROM record_tags WHERE tag = ?)')
    params.push(t)
  }
  params.push(q.limit)
  const rows = db.prepare(`SELECT r.cid AS record, r.root, r.owner, r.name, r.mime, r.size, r.time, r.bytes FROM ${from}
    WHERE ${where.join(' AND ')} ORDER BY ${order} LIMIT ?`).all(...params) as Array<Omit<LocalHit, 'tags'>>
  const tagsOf = db.prepare('SELECT tag FROM record_tags WHERE record = ? ORDER BY tag').pluck()
  return rows.map((r) => ({...r, tags: tagsOf.all(r.record) as string[]}))
}

/**
 * Candidates for a ranked search here: more than `limit` (3×, at most 300),
 * because the final order also weighs the owner's trust, which bm25 does not
 * see; searchNetwork() cuts back to `limit`.
 */
export function searchCandidates(db: Database, q: SearchQuery): LocalHit[] {
  return searchLocal(db, {...q, limit: Math.min(q.limit * 3, 300)})
}
