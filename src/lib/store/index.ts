/** The embedded store: POLAR_HOME/polar.db (SQLite) and block packs on disk. */
export {openDatabase, migrate, type Database} from './db.js'
export {BlockStore, PackWriter, MAX_PACK_SIZE, CHECKPOINT_BYTES} from './block-store.js'
export {Store, openStore} from './store.js'
