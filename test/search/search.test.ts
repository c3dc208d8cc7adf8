// Search on one store: the FTS5 index follows records through triggers
// (insert, tags, delete), user words never become FTS syntax, and a peer's
// answers are kept only when they are verified records that match.
import assert from 'node:assert/strict'
import {after, describe, it} from 'node:test'
import * as dagCbor from '@ipld/dag-cbor'
import fc from 'fast-check'
import {cidOf} from '../../src/lib/content/cid.js'
import {RAW_CODE} from '../../src/lib/content/constants.js'
import {InputError} from '../../src/lib/errors.js'
import {identityFromSecret} from '../../src/lib/identity/keys.js'
import {signObjectRecord} from '../../src/lib/records/object-record.js'
import {ftsExpression, parseQuery, relevance, searchLocal, searchNetwork, words, type PeerSearcher} from '../../src/lib/search/index.js'
import {openStore} from '../../src/lib/store/store.js'
import {tmpHome} from '../helpers.js'

const seed = (n: number) => Uint8Array.from({length: 32}, (_, i) => (i === 31 ? n : i === 29 ? 3 : 0))
const alice = identityFromSecret('alice', seed(1))
const bob = identityFromSecret('bob', seed(2))
const rec = (name: string, tags: string[], owner = alice, mime = 'application/octet-stream', body = name) =>
  signObjectRecord({root: cidOf(RAW_CODE, Buffer.from(body)), size: body.length, name, mime, tags, time: Date.now()}, owner)

describe('search: query parsing', () => {
  it('splits words like the index does and quotes them as prefix terms', () => {
    assert.deepEqual(words('Annual-Report_2026.PDF'), ['annual', 'report', '2026', 'pdf'])
    assert.deepEqual(words('Café  naïve'), ['cafe', 'naive'])
    assert.equal(ftsExpression(['annual', 'rep']), '{name tags mime} : ("annual"* AND "rep"*)')
    assert.deepEqual(parseQuery({query: 'x" OR name:* NEAR(a b) -c ^d'}).terms, ['x', 'or', 'name', 'near', 'a', 'b', 'c', 'd'])
  })

  it('refuses out-of-range input as InputError', () => {
    assert.throws(() => parseQuery({query: 'x'.repeat(300)}), InputError)
    assert.throws(() => parseQuery({query: Array.from({length: 20}, (_, i) => `w${i}`).join(' ')}), InputError)
    assert.throws(() => parseQuery({owner: 'did:key:nope'}), InputError)
    assert.throws(() => parseQuery({limit: 0}), InputError)
    assert.throws(() => parseQuery({limit: NaN}), InputError)
    assert.throws(() => parseQuery({query: '\ud800'}), InputError)
  })
})

describe('search: local index', () => {
  const {home, cleanup} = tmpHome()
  const store = openStore(home)
  after(() => {
    store.close()
    cleanup()
  })
  const report = rec('Annual Report 2026.pdf', ['finance', 'q4'], alice, 'application/pdf')
  const photo = rec('holiday-photo.jpg', ['vacation'], bob, 'image/jpeg')
  store.records.putObject(report.bytes)
  store.records.putObject(photo.bytes)

  it('finds by a word of the name, a prefix, a tag, the media type, owner and tag filters', () => {
    const find = (input: Parameters<typeof parseQuery>[0]) => searchLocal(store.db, parseQuery(input)).map((h) => h.name)
    assert.deepEqual(find({query: 'annual'}), ['Annual Report 2026.pdf'])
    assert.deepEqual(find({query: 'repo 2026'}), ['Annual Report 2026.pdf'])
    assert.deepEqual(find({query: 'vacation'}), ['holiday-photo.jpg'])
    assert.deepEqual(find({query: 'jpeg'}), ['holiday-photo.jpg'])
    assert.deepEqual(find({tags: ['finance']}), ['Annual Report 2026.pdf'])
    assert.deepEqual(find({tags: ['fin']}), [], 'tag filters are exact')
    assert.deepEqual(find({owner: bob.did}), ['holiday-photo.jpg'])
    assert.deepEqual(find({query: 'annual', owner: bob.did}), [])
    assert.deepEqual(find({query: 'nothing-like-it'}), [])
    assert.equal(find({}).length, 2)
  })

  it('never fails on hostile query text (property)', () => {
    fc.assert(fc.property(fc.string({maxLength: 200}), (text) => {
      let q
      try {
        q = parseQuery({query: text})
      } catch (err) {
        assert.ok(err instanceof InputError)
        return
      }
      searchLocal(store.db, q) // must not throw an FTS syntax error
    }), {numRuns: 500})
    for (const t of ['"', '*', 'AND', 'NOT x', 'name:annual', '{name}: x', '(', 'NEAR(', '^', '-x', "'", '\\']) searchLocal(store.db, parseQuery({query: t}))
  })

  it('follows the records table: a deleted record (erase) leaves the index, tags update it', () => {
    const temp = rec('temporary scratch.txt', ['scratch'])
    store.records.putObject(temp.bytes)
    assert.equal(searchLocal(store.db, parseQuery({query: 'scratch'})).length, 1)
    store.db.transaction(() => store.db.prepare('DELETE FROM records WHERE cid = ?').run(temp.cid.toString())).immediate()
    assert.equal(searchLocal(store.db, parseQuery({query: 'scratch'})).length, 0)
    assert.equal(store.db.prepare("SELECT count(*) FROM object_search WHERE object_search MATCH 'scratch'").pluck().get(), 0)
    store.db.prepare('DELETE FROM record_tags WHERE record = ? AND tag = ?').run(report.cid.toString(), 'q4')
    assert.equal(searchLocal(store.db, parseQuery({query: 'q4'})).length, 0)
    assert.equal(searchLocal(store.db, parseQuery({query: 'finance'})).length, 1)
  })

  it('relevance: whole name words over prefixes over tags over media type', () => {
    const r = {name: 'Report 2026', tags: ['reports'], mime: 'text/plain'}
    assert.equal(relevance(r, ['report']), 3)
    assert.equal(relevance(r, ['rep']), 2)
    assert.equal(relevance(r, ['plain']), 1)
    assert.equal(relevance(r, ['missing']), 0)
    assert.equal(relevance(r, []), 1)
  })
})

describe('search: merging peers', () => {
  const good = rec('shared holiday album', ['vacation'], bob)
  const mine = rec('my holiday notes', [], alice)
  const offTopic = rec('tax forms', [], bob)
  const forged = (() => {
    const v = dagCbor.decode(rec('holiday forged', [], bob).bytes) as any
    v.name = 'holiday forged (edited)'
    return Buffer.from(dagCbor.encode(v)).toString('base64')
  })()
  const b64 = (s: {bytes: Uint8Array}) => Buffer.from(s.bytes).toString('base64')
  const peer = (did: string, answer: unknown, delayMs = 0): PeerSearcher => ({did, search: async (_q, signal) => {
    await new Promise((r, j) => {
      const t = setTimeout(r, delayMs)
      signal.addEventListener('abort', () => {
        clearTimeout(t)
        j(new Error('aborted'))
      })
    })
    return answer
  }})

  it('keeps verified matching records, drops forged, off-topic and junk, de-duplicates by CID, ranks by trust', async () => {
    const q = parseQuery({query: 'holiday'})
    const report = await searchNetwork(q, [], [
      peer('p1', {records: [b64(good), forged, b64(offTopic), 'not base64!', 42]}),
      peer('p2', {records: [b64(good), b64(mine)]}),
      peer('p3', {records: 'nope'}),
      peer('p4', {}, 0),
      {did: 'p5', search: async () => { throw new Error('unreachable') }},
    ], (owner) => (owner === alice.did ? 1 : 0))
    assert.deepEqual(report.results.map((r) => r.name), ['my holiday notes', 'shared holiday album'])
    assert.equal(report.results[0].score, 3 * 2) // relevance 3 × (1 + trust 1)
    assert.equal(report.results[1].score, 3)
    assert.equal(report.peers.asked, 5)
    assert.equal(report.peers.answered, 4)
    assert.equal(report.peers.dropped, 4)
  })

  it('gives up on slow peers at the deadline', async () => {
    const report = await searchNetwork(parseQuery({query: 'holiday'}), [], [peer('slow', {records: [b64(good)]}, 60_000), peer('fast', {records: [b64(mine)]})], () => 0, {timeoutMs: 300})
    assert.deepEqual(report.results.map((r) => r.name), ['my holiday notes'])
  })
})
