// Fakes for unit tests of node modules (no processes, no sockets): a peer
// table row, an in-memory table slice, and a real store in a temporary home
// holding one object built here.
import {randomBytes} from 'node:crypto'
import type {CID} from 'multiformats/cid'
import {buildFile} from '../../src/lib/content/index.js'
import {generateSecretKey, identityFromSecret, type Identity} from '../../src/lib/identity/index.js'
import type {Peer} from '../../src/lib/node/peer-table.js'
import {signObjectRecord, type ObjectRecord, type SignedRecord} from '../../src/lib/records/index.js'
import {openStore, type Store} from '../../src/lib/store/store.js'
import {tmpHome} from '../helpers.js'

export const newIdentity = (name = 'test'): Identity => identityFromSecret(name, generateSecretKey())

/** A peer-table row (alive unless told). */
export function peer(did: string, fields: Partial<Peer> = {}): Peer {
  const url = fields.url ?? `http://${did.slice(-6)}.test:1`
  return {
    did, url, services: 'polar/1', firstSeen: 0, lastSeen: 0, rttMs: null, failures: 0, badBlocks: 0, state: 'alive',
    learnedFrom: null, urls: [url], recordTime: null, address: null, nextPing: 0, backoffMs: 0, deadSince: null, ...fields,
  }
}

/** A store in a fresh home; `cleanup` closes it and removes the home. */
export function tempStore(): {store: Store; home: string; cleanup: () => void} {
  const {home, cleanup} = tmpHome('polar-unit-')
  const store = openStore(home)
  return {store, home, cleanup: () => { store.close(); cleanup() }}
}

/** Builds `size` random bytes as an object in `store` (blocks and the owner's record); returns the root and the signed record. */
export async function storeObject(store: Store, owner: Identity, size = 3000): Promise<{root: CID; record: SignedRecord<ObjectRecord>}> {
  const writer = store.blocks.writer()
  const built = await buildFile((async function * () { yield randomBytes(size) })(), {put: (cid, bytes) => writer.put(cid, bytes)})
  await writer.close()
  const record = signObjectRecord({root: built.cid, size, name: 'f', mime: 'application/octet-stream', tags: [], time: Date.now()}, owner)
  store.records.putObject(record.bytes)
  return {root: built.cid, record}
}

/** A log that keeps its lines. */
export function memoryLog(): {log: (m: string) => void; lines: string[]} {
  const lines: string[] = []
  return {log: (m) => void lines.push(m), lines}
}
