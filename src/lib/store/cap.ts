import {PolarError} from '../errors.js'
import type {Database} from './db.js'
import {formatBytes} from './pack-files.js'

/** What the cap needs of a writer: the bytes it appended that no checkpoint has counted in `packs.size` yet. */
export interface CappedWriter {
  readonly uncommitted: number
}

/**
 * A hard storage cap (issue 19, point 5; `polar serve --max-storage`). kubo's
 * StorageMax only triggers its GC (kubo issues 7875, 5140, 3066); this one
 * refuses the write. The space used is the pack files' committed bytes
 * (packs.size, dead bytes included until gc or compaction gives them back)
 * plus what this process's writers have appended and not yet committed. A
 * write that would pass the cap is refused with NO_SPACE, the error of a full
 * disk, before the block is appended; callers that know an object's size
 * refuse it before its first block (room()).
 */
export class StorageCap {
  private readonly writers = new Set<CappedWriter>()
  private readonly committedStmt

  constructor(private readonly db: Database, readonly maxBytes: number) {
    this.committedStmt = db.prepare('SELECT coalesce(sum(size), 0) FROM packs').pluck()
  }

  /** Bytes used now. */
  used(): number {
    let n = this.committedStmt.get() as number
    for (const w of this.writers) n += w.uncommitted
    return n
  }

  /** Throws NO_SPACE unless `bytes` more fit under the cap. */
  room(bytes: number, what = `${bytes} more bytes`): void {
    const used = this.used()
    if (used + bytes > this.maxBytes) {
      throw new PolarError(`no space left under this node's storage cap (--max-storage ${formatBytes(this.maxBytes)}): ${formatBytes(used)} are used and ${what} would pass it; ` +
        'run `polar gc` on the node, or raise --max-storage', {code: 'NO_SPACE'})
    }
  }

  /** A writer about to append `bytes`: refused when they would pass the cap; from then on its unfinished bytes count. */
  admit(writer: CappedWriter, bytes: number): void {
    this.room(bytes, `a block of ${bytes} bytes`)
    this.writers.add(writer)
  }

  /** A writer that closed or gave up: its bytes are in packs.size now, or cut off. */
  forget(writer: CappedWriter): void {
    this.writers.delete(writer)
  }
}
