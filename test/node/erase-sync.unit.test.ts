// Unit tests of erase anti-entropy and erase sending (node/erase-sync.ts)
// with fake peers and clients over a real store in a temporary home: no node
// process, no socket. Tombstones learned from a peer's list are applied once,
// bad entries are skipped, and the cursor per peer moves only past what was read.
import assert from 'node:assert/strict'
import {after, describe, it} from 'node:test'
import {Erasures, signErasures} from '../../src/lib/erase/index.js'
import {sendErase, syncErasures, type EraseSyncComponents} from '../../src/lib/node/erase-sync.js'
import type {Peer} from '../../src/lib/node/peer-table.js'
import type {Store} from '../../src/lib/store/store.js'
import {memoryLog, newIdentity, peer, storeObject, tempStore} from './fakes.js'

type Page = {erasures: Array<{seq: number; erase: string; record: string}>; next: number}
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64')

/** Components whose peers answer /v1/erasures from `pages` (by peer did, then by `after`), and record what was sent. */
function components(store: Store, peers: Peer[], pages: Record<string, (after: number) => Page | Promise<Page>>) {
  const {log, lines} = memoryLog()
  const asked: Array<{did: string; after: number}> = []
  const delivered: string[] = []
  const inflight: Array<Promise<unknown>> = []
  const c: EraseSyncComponents = {
    store,
    peers: {list: () => peers, live: () => peers.filter((p) => p.state !== 'dead')},
    client: (p) => {
      const did = peers.find((x) => x.url === p.url)!.did
      return {
        erase: {
          since: async (after: number) => {
            asked.push({did, after})
            const page = pages[did]
            if (!page) throw new Error('connect ECONNREFUSED')
            return page(after)
          },
          send: async () => {
            if (!pages[did]) throw new Error('connect ECONNREFUSED')
            delivered.push(did)
            return {applied: true}
          },
        },
        objects: {records: async () => ({records: []})},
      } as any
    },
    log,
    track: (work) => {
      inflight.push(work.catch(() => {}))
      return work
    },
    did: 'did:key:zself',
  }
  return {c, asked, delivered, lines, settle: () => Promise.all(inflight)}
}

describe('syncErasures (unit, fakes)', () => {
  const {store, cleanup} = tempStore()
  after(cleanup)
  const owner = newIdentity()
  const a = peer('did:key:zpeerA', {url: 'http://a.test:1'})
  const b = peer('did:key:zpeerB', {url: 'http://b.test:1'})

  it('applies the erases a peer lists, skips a bad entry, keeps a cursor per peer, and asks only past it next time', async () => {
    const {root, record} = await storeObject(store, owner)
    const [v] = signErasures([record], owner)
    const erasures = new Erasures(store)
    assert.equal(store.blocks.has(root), true)
    const listA: Page['erasures'] = [
      {seq: 3, erase: b64(Uint8Array.of(1, 2, 3)), record: b64(record.bytes)}, // not an erase record: skipped, logged
      {seq: 5, erase: b64(v.erase.bytes), record: b64(v.object.bytes)},
    ]
    const pageOf = (list: Page['erasures']) => (after: number) => {
      const rest = list.filter((e) => e.seq > after)
      return {erasures: rest, next: rest.at(-1)?.seq ?? after}
    }
    const {c, asked, lines} = components(store, [a, b], {[a.did]: pageOf(listA)}) // b is down
    assert.equal(await syncErasures(c), 1)
    assert.equal(erasures.isErased(record.cid), true)
    assert.equal(store.blocks.has(root), false, 'the erased object\'s blocks are swept')
    assert.equal(erasures.cursor(a.did), 5)
    assert.equal(erasures.cursor(b.did), 0, 'a peer that did not answer keeps its cursor')
    assert.match(lines.join('\n'), /skipped a bad erasure from http:\/\/a\.test:1/)
    assert.match(lines.join('\n'), /erasure sync with http:\/\/b\.test:1: connect ECONNREFUSED/)
    assert.deepEqual(asked.filter((x) => x.did === a.did).map((x) => x.after), [0, 5], 'read until an empty page')

    // Next pass: asked from the cursor; the erase already applied is not counted again.
    const second = components(store, [a, b], {[a.did]: pageOf(listA), [b.did]: pageOf([{seq: 1, erase: b64(v.erase.bytes), record: b64(v.object.bytes)}])})
    assert.equal(await syncErasures(second.c), 0)
    assert.deepEqual(second.asked.find((x) => x.did === a.did), {did: a.did, after: 5})
    assert.equal(erasures.cursor(b.did), 1)
  })

  it('a page out of order ends that peer\'s pass (logged) without moving its cursor past what was applied', async () => {
    const c0 = peer('did:key:zpeerC', {url: 'http://c.test:1'})
    const {c, lines} = components(store, [c0], {[c0.did]: () => ({erasures: [{seq: 0, erase: '', record: ''}], next: 0})})
    assert.equal(await syncErasures(c), 0)
    assert.match(lines.join('\n'), /erasures out of order/)
    assert.equal(new Erasures(store).cursor(c0.did), 0)
  })
})

describe('sendErase (unit, fakes)', () => {
  const {store, cleanup} = tempStore()
  after(cleanup)

  it('sends to every peer not known dead and returns the ones that confirmed', async () => {
    const owner = newIdentity()
    const {record} = await storeObject(store, owner)
    const [v] = signErasures([record], owner)
    const up = peer('did:key:zup', {url: 'http://up.test:1'})
    const down = peer('did:key:zdown', {url: 'http://down.test:1', state: 'suspect'})
    const dead = peer('did:key:zdead', {url: 'http://dead.test:1', state: 'dead'})
    const ok = () => ({erasures: [], next: 0})
    const {c, delivered, lines} = components(store, [up, down, dead], {[up.did]: ok, [dead.did]: ok})
    assert.deepEqual(await sendErase(c, v), [up.did])
    assert.deepEqual(delivered, [up.did], 'the dead peer is not asked (anti-entropy brings it the erase later)')
    assert.match(lines.join('\n'), /not delivered to http:\/\/down\.test:1/)
  })
})
