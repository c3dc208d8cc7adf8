import {createRequire} from 'node:module'
import {closeSync, fchmodSync, openSync} from 'node:fs'
import {join} from 'node:path'
import type BetterSqlite3 from 'better-sqlite3'
import {PolarError} from '../errors.js'
import {MIGRATIONS} from './migrations.js'

export type Database = BetterSqlite3.Database

const require = createRequire(import.meta.url)

/**
 * Opens POLAR_HOME/polar.db: WAL so readers never block the writer, and
 * synchronous=FULL set explicitly so a committed transaction survives power
 * loss (in WAL mode NORMAL may lose the last commits; see sqlite.org/pragma.html#pragma_synchronous).
 */
export function openDatabase(home: string, {readonly = false} = {}): Database {
  const Sqlite = require('better-sqlite3') as typeof BetterSqlite3
  const path = join(home, 'polar.db')
  if (!readonly) createPrivate(path)
  const db = new Sqlite(path, {readonly, timeout: 10_000})
  if (!readonly) db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.pragma('foreign_keys = ON')
  if (!readonly) migrate(db)
  return db
}

/** Applies the migrations this binary knows past `user_version`, each in its own transaction. */
export function migrate(db: Database): void {
  const current = db.pragma('user_version', {simple: true}) as number
  if (current > MIGRATIONS.length) {
    throw new PolarError(`polar.db has schema version ${current}, newer than this polar (${MIGRATIONS.length}); upgrade polar`, {code: 'SCHEMA_TOO_NEW'})
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      // Re-check inside the write lock: another process may have migrated meanwhile.
      if ((db.pragma('user_version', {simple: true}) as number) !== v) return
      db.exec(MIGRATIONS[v])
      db.pragma(`user_version = ${v + 1}`)
    }).immediate()
  }
}

/**
 * Creates polar.db empty at mode 0600 before SQLite opens it (issue 20, point
 * 11): SQLite would create it 0644 less the umask, readable by every user, and
 * gives its -wal and -shm files the database's mode. fchmod, because the
 * umask may strip bits from open()'s mode but never adds what is missing.
 */
function createPrivate(path: string): void {
  let fd: number
  try {
    fd = openSync(path, 'wx', 0o600)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return // secureHome checks an existing one
    throw err
  }
  try {
    fchmodSync(fd, 0o600)
  } finally {
    closeSync(fd)
  }
}
