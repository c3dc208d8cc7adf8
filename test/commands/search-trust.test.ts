// search and trust on the embedded store (no node): results, exit codes and
// --json shapes of CLI.md, and bad input refused with exit 2 or 3.
import assert from 'node:assert/strict'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {json, runPolar, tmpHome} from '../helpers.js'

describe('search and trust without a node', () => {
  const {home, cleanup} = tmpHome()
  const other = tmpHome()
  after(() => {
    cleanup()
    other.cleanup()
  })

  it('search finds by word, prefix and tag; no match is [] and exit 0; bad flags are exit 2', async () => {
    const file = join(home, 'Field Notes – Élan.md')
    writeFileSync(file, 'notes')
    const pushed = await runPolar(['push', file, '--tag', 'notes', '--tag', 'draft', '--json'], {home})
    assert.equal(pushed.code, 0, pushed.stderr)
    const cid = json(pushed).cid
    for (const q of [['elan'], ['fie NOTES'], ['--tag', 'draft']]) {
      const r = await runPolar(['search', ...q, '--json'], {home})
      assert.equal(r.code, 0, r.stdout.toString())
      const rows = json(r)
      assert.deepEqual(rows.map((x: any) => x.cid), [cid], q.join(' '))
      assert.equal(typeof rows[0].score, 'number')
      assert.deepEqual(Object.keys(rows[0]).slice(0, 6), ['cid', 'name', 'size', 'tags', 'owner', 'score'])
    }
    const none = await runPolar(['search', 'nothing', '--json'], {home})
    assert.equal(none.code, 0)
    assert.deepEqual(json(none), [])
    const quiet = await runPolar(['search', 'nothing'], {home})
    assert.equal(quiet.code, 0)
    assert.equal(quiet.stdout.length, 0)
    for (const bad of [['--limit', '0'], ['--owner', 'did:key:x'], ['x'.repeat(300)]]) {
      const r = await runPolar(['search', ...bad, '--json'], {home})
      assert.equal(r.code, 2, `${bad.join(' ')}: ${r.stdout}`)
    }
  })

  it('trust add / ls / score / rm, with bad weights, bad dids, self-trust and unknown rm refused', async () => {
    const k = await runPolar(['keygen', '--json'], {home: other.home})
    const did = json(k).did
    const added = await runPolar(['trust', 'add', did, '--weight', '2.5', '--json'], {home})
    assert.equal(added.code, 0, added.stdout.toString())
    const me = json(added).owner
    const ls = await runPolar(['trust', '--json'], {home})
    assert.deepEqual(json(ls), [{did, weight: 2.5}])
    const score = json(await runPolar(['trust', 'score', did, '--json'], {home}))
    assert.deepEqual(score, {did, score: 1, paths: [{path: [me, did], weight: 1}], pathCount: 1})
    assert.equal(json(await runPolar(['trust', 'score', me, '--json'], {home})).score, 1)
    const stranger = 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK'
    assert.deepEqual(json(await runPolar(['trust', 'score', stranger, '--json'], {home})), {did: stranger, score: 0, paths: [], pathCount: 0})
    for (const [args, exit] of [
      [['add', did, '--weight', '-1'], 2],
      [['add', did, '--weight', '0'], 2],
      [['add', did, '--weight', 'lots'], 2],
      [['add', did, '--weight', 'NaN'], 2],
      [['add', 'did:key:nope', '--weight', '1'], 2],
      [['add', me, '--weight', '1'], 2],
      [['add', did], 2],
      [['rm', stranger], 3],
      [['score', 'bogus'], 2],
    ] as Array<[string[], number]>) {
      const r = await runPolar(['trust', ...args, '--json'], {home})
      assert.equal(r.code, exit, `${args.join(' ')}: ${r.stdout}${r.stderr}`)
      assert.ok(json(r).error.code)
    }
    assert.deepEqual(json(await runPolar(['trust', 'ls', '--json'], {home})), [{did, weight: 2.5}], 'nothing changed')
    const rm = await runPolar(['trust', 'rm', did, '--json'], {home})
    assert.equal(rm.code, 0)
    assert.deepEqual(json(rm).trusts, [])
  })
})
