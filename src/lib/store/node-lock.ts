import {PolarError} from '../errors.js'
import {HOLDER, holderIsDead} from '../util/process.js'
import type {Database} from './db.js'

/**
 * One node per POLAR_HOME (`node_lock`, one row): the live-socket check alone
 * races when two `serve`s start at once, so the claim is a row taken in an
 * IMMEDIATE transaction. A holder whose process is dead (SIGKILL) is replaced.
 */

/** The `host:pid` of the node that holds this home, or undefined. */
export function nodeLockHolder(db: Database): string | undefined {
  return db.prepare('SELECT holder FROM node_lock WHERE id = 1').pluck().get() as string | undefined
}

/** Claims `home` for this process, or explains who holds it (NODE_RUNNING). */
export function lockHome(db: Database, home: string): void {
  db.transaction(() => {
    const holder = nodeLockHolder(db)
    if (holder && holder !== HOLDER && !holderIsDead(holder)) {
      throw new PolarError(`a node (${holder}) is already running on ${home}; stop it first or use another --home`, {code: 'NODE_RUNNING'})
    }
    db.prepare('INSERT OR REPLACE INTO node_lock (id, holder, since) VALUES (1, ?, ?)').run(HOLDER, Date.now())
  }).immediate()
}

/** Gives the home back (only this process's claim). */
export function unlockHome(db: Database): void {
  db.prepare('DELETE FROM node_lock WHERE holder = ?').run(HOLDER)
}
