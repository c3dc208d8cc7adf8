import type BetterSqlite3 from 'better-sqlite3'
import {decodeObjectRecord, type ObjectRecord, type SignedRecord} from './object-record.js'

/** The open polar.db (store/db.ts opens it; the records folder only needs its type). */
type Database = BetterSqlite3.Database

export interface StoredObject {
  cid: string
  root: string
  owner: string
  name: string
  mime: string
  size: number
  time: number
  tags: string[]
}

/** An object held here for the repair loop: its root, one record of it, and the replica count it was pushed with. */
export interface HeldObject {
  root: string
  /** The greatest record CID of the root (any one would do: repair sends it to peers). */
  record: string
  /** `object_replicas` for the root; null: the node's setting. */
  k: number | null
}

/**
 * Signed records in polar.db, indexed by root, owner+name and tag, and each
 * object's replica target (`object_replicas`). Only verified records get in.
 * Every statement on the `records` table is here (search's FTS5 query, which
 * joins it, excepted: search/local.ts).
 */
/** One row of `listByOwner`: the record's fields, and the replica target (null: the node's setting). */
export interface OwnedObjectRow {
  /** Root CID of the object. */
  cid: string
  name: string
  /** Bytes of the file. */
  size: number
  mime: string
  /** ms since the epoch, from the signed record. */
  time: number
  owner: string
  /** CID of the signed record. */
  record: string
  /** Nodes the object is meant to live on (push --replicas), null when the node's setting applies. */
  replicas: number | null
}

export class RecordStore {
  constructor(private readonly db: Database) {}

  /** Verifies and stores an object record (idempotent). Returns it decoded. */
  putObject(bytes: Uint8Array): SignedRecord<ObjectRecord> {
    const signed = decodeObjectRecord(bytes)
    const r = signed.record
    const cid = signed.cid.toString()
    this.db.transaction(() => {
      const ins = this.db.prepare(`INSERT OR IGNORE INTO records (cid, kind, root, owner, name, mime, size, time, bytes)
        VALUES (?, 'object', ?, ?, ?, ?, ?, ?, ?)`).run(cid, r.root.toString(), r.owner, r.name, r.mime, r.size, r.time, bytes)
      if (ins.changes === 1) {
        const tag = this.db.prepare('INSERT OR IGNORE INTO record_tags (record, tag) VALUES (?, ?)')
        for (const t of r.tags) tag.run(cid, t)
      }
    }).immediate()
    return signed
  }

  /** Deletes the record `cid` (an erase; runs inside the caller's transaction when there is one). Returns 1 or 0. */
  delete(cid: string): number {
    return this.db.prepare('DELETE FROM records WHERE cid = ?').run(cid).changes
  }

  /** Object records whose root is `root`, newest first. */
  objectsByRoot(root: string): StoredObject[] {
    const rows = this.db.prepare(`SELECT cid, root, owner, name, mime, size, time FROM records
      WHERE kind = 'object' AND root = ? ORDER BY time DESC`).all(root) as Omit<StoredObject, 'tags'>[]
    return rows.map((row) => ({...row, tags: this.tagsOf(row.cid)}))
  }

  /** True when an object record here names `root`. */
  hasRoot(root: string): boolean {
    return this.db.prepare("SELECT 1 FROM records WHERE kind = 'object' AND root = ?").get(root) !== undefined
  }

  /** Every root an object record here names (the erase sweep's and repair's live roots). */
  liveRoots(): string[] {
    return this.db.prepare("SELECT DISTINCT root FROM records WHERE kind = 'object' AND root IS NOT NULL").pluck().all() as string[]
  }

  /** The root of the newest object of `owner` named `name` (the automatic base of a new version). */
  latestRoot(owner: string, name: string): string | undefined {
    return this.db.prepare(`SELECT root FROM records WHERE kind = 'object' AND owner = ? AND name = ? ORDER BY time DESC LIMIT 1`).pluck().get(owner, name) as string | undefined
  }

  /** The raw signed bytes of a record, for forwarding. */
  bytesOf(cid: string): Uint8Array | undefined {
    const row = this.db.prepare('SELECT bytes FROM records WHERE cid = ?').get(cid) as {bytes: Buffer} | undefined
    return row?.bytes
  }

  /** The signed bytes of the object record `cid` ([] when there is none). */
  objectBytes(cid: string): Uint8Array[] {
    return this.db.prepare("SELECT bytes FROM records WHERE kind = 'object' AND cid = ?").pluck().all(cid) as Buffer[]
  }

  /** The signed bytes of every object record of `root`, oldest first. */
  objectBytesByRoot(root: string): Uint8Array[] {
    return this.db.prepare("SELECT bytes FROM records WHERE kind = 'object' AND root = ? ORDER BY time").pluck().all(root) as Buffer[]
  }

  /** Each root with an object record here, one record of it and its replica target (the repair loop's list). */
  heldObjects(): HeldObject[] {
    return this.db.prepare(`SELECT r.root, max(r.cid) AS record, o.replicas AS k FROM records r LEFT JOIN object_replicas o ON o.root = r.root
      WHERE r.kind = 'object' GROUP BY r.root`).all() as HeldObject[]
  }

  /** `polar ls`: the object records of `owner`, newest first (two versions are two rows), with their replica target. */
  listByOwner(owner: string, limit: number): OwnedObjectRow[] {
    const rows = this.db
      .prepare(`SELECT r.root AS cid, coalesce(r.name, '') AS name, coalesce(r.size, 0) AS size, coalesce(r.mime, '') AS mime, r.time, r.owner, r.cid AS record, o.replicas
        FROM records r LEFT JOIN object_replicas o ON o.root = r.root
        WHERE r.kind = 'object' AND r.owner = ? ORDER BY r.time DESC, r.cid LIMIT ?`)
      .all(owner, limit) as OwnedObjectRow[]
    return rows.map((r) => ({...r, replicas: r.replicas ?? null}))
  }

  /** `polar status`: distinct object roots and object records held. */
  objectCounts(): {objects: number; records: number} {
    return this.db.prepare("SELECT count(DISTINCT root) AS objects, count(*) AS records FROM records WHERE kind = 'object'").get() as {objects: number; records: number}
  }

  /** Records the replica count an object was pushed with; repair keeps it there. */
  setReplicaTarget(root: string, replicas: number): void {
    this.db.prepare('INSERT OR REPLACE INTO object_replicas (root, replicas) VALUES (?, ?)').run(root, replicas)
  }

  /** Forgets the replica target of `root` (its last record was erased). */
  dropReplicaTarget(root: string): void {
    this.db.prepare('DELETE FROM object_replicas WHERE root = ?').run(root)
  }

  private tagsOf(cid: string): string[] {
    return this.db.prepare('SELECT tag FROM record_tags WHERE record = ? ORDER BY tag').pluck().all(cid) as string[]
  }
}
