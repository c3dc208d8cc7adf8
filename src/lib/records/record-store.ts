import type {Database} from '../store/db.js'
import {decodeObjectRecord, type ObjectRecord, type SignedRecord} from './object-record.js'

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

/** Signed records in polar.db, indexed by root, owner+name and tag. Only verified records get in. */
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

  /** Object records whose root is `root`, newest first. */
  objectsByRoot(root: string): StoredObject[] {
    const rows = this.db.prepare(`SELECT cid, root, owner, name, mime, size, time FROM records
      WHERE kind = 'object' AND root = ? ORDER BY time DESC`).all(root) as Omit<StoredObject, 'tags'>[]
    return rows.map((row) => ({...row, tags: this.tagsOf(row.cid)}))
  }

  /** The raw signed bytes of a record, for forwarding. */
  bytesOf(cid: string): Uint8Array | undefined {
    const row = this.db.prepare('SELECT bytes FROM records WHERE cid = ?').get(cid) as {bytes: Buffer} | undefined
    return row?.bytes
  }

  private tagsOf(cid: string): string[] {
    return this.db.prepare('SELECT tag FROM record_tags WHERE record = ? ORDER BY tag').pluck().all(cid) as string[]
  }
}
