import assert from 'node:assert/strict'
import {statSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {PolarError} from '../../src/lib/errors.js'
import {openDatabase} from '../../src/lib/store/db.js'
import {MIGRATIONS} from '../../src/lib/store/migrations.js'
import {openStore} from '../../src/lib/store/store.js'
import {tmpHome} from '../helpers.js'

describe('polar.db', () => {
  const homes: Array<() => void> = []
  after(() => homes.forEach((c) => c()))
  const fresh = () => {
    const t = tmpHome('polar-db-')
    homes.push(t.cleanup)
    return t.home
  }

  it('opens in WAL mode with synchronous=FULL, migrated to the latest schema', () => {
    const db = openDatabase(fresh())
    try {
      assert.equal(db.pragma('journal_mode', {simple: true}), 'wal')
      assert.equal(db.pragma('synchronous', {simple: true}), 2) // FULL
      assert.equal(db.pragma('user_version', {simple: true}), MIGRATIONS.length)
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[]
      for (const t of ['packs', 'blocks', 'records', 'record_tags']) assert.ok(tables.includes(t), t)
    } finally {
      db.close()
    }
  })

  it('migrating again is a no-op', () => {
    const home = fresh()
    openDatabase(home).close()
    const db = openDatabase(home)
    try {
      assert.equal(db.pragma('user_version', {simple: true}), MIGRATIONS.length)
    } finally {
      db.close()
    }
  })

  it('refuses a database from a newer polar', () => {
    const home = fresh()
    const db = openDatabase(home)
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`)
    db.close()
    assert.throws(() => openDatabase(home), (err: unknown) => err instanceof PolarError && err.code === 'SCHEMA_TOO_NEW')
  })

  it('creates a missing home at 0700', () => {
    const home = join(fresh(), 'nested', 'home')
    openStore(home).close()
    assert.equal(statSync(home).mode & 0o777, 0o700)
  })
})
