import {ensureHome} from '../home.js'
import {RecordStore} from '../records/record-store.js'
import {BlockStore} from './block-store.js'
import {openDatabase, type Database} from './db.js'

/** The embedded store of one POLAR_HOME: database, blocks and records. */
export class Store {
  readonly blocks: BlockStore
  readonly records: RecordStore

  constructor(readonly home: string, readonly db: Database) {
    this.blocks = new BlockStore(db, home)
    this.records = new RecordStore(db)
  }

  close(): void {
    this.blocks.close()
    if (this.db.open) this.db.close()
  }
}

export function openStore(home: string): Store {
  ensureHome(home)
  return new Store(home, openDatabase(home))
}
