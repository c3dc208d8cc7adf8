import assert from 'node:assert/strict'
import {chmodSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {json, runPolar, tmpHome} from '../helpers.js'

describe('polar keys, whoami, and keygen on an existing name (issue 19, point 3)', () => {
  const {home, cleanup} = tmpHome()
  after(cleanup)

  it('keys on an empty home: [] and exit 0; whoami: exit 3 with a keygen hint', async () => {
    const k = await runPolar(['keys', '--json'], {home})
    assert.equal(k.code, 0, k.stderr)
    assert.deepEqual(json(k), [])
    const w = await runPolar(['whoami', '--json'], {home})
    assert.equal(w.code, 3)
    assert.equal(json(w).error.code, 'NOT_FOUND')
    assert.match(json(w).error.message, /polar keygen/)
  })

  it('lists every identity with its did and creation time, and whoami names the default', async () => {
    const a = json(await runPolar(['keygen', '--json'], {home}))
    const b = json(await runPolar(['keygen', '--name', 'work', '--json'], {home}))
    const k = await runPolar(['keys', '--json'], {home})
    assert.equal(k.code, 0, k.stderr)
    const list = json(k)
    assert.deepEqual(list.map((e: any) => [e.name, e.did]), [['default', a.did], ['work', b.did]])
    for (const e of list) assert.ok(Date.parse(e.created) > Date.now() - 10 * 60_000, e.created)
    const plain = await runPolar(['keys'], {home})
    const lines = plain.stdout.toString().trim().split('\n')
    assert.match(lines[0], /^NAME +CREATED +DID$/)
    assert.ok(lines[2].startsWith('work ') && lines[2].endsWith(b.did), lines[2])
    const w = await runPolar(['whoami', '--json'], {home})
    assert.equal(w.code, 0, w.stderr)
    assert.deepEqual(json(w), {name: 'default', did: a.did})
    assert.equal((await runPolar(['whoami'], {home})).stdout.toString(), a.did + '\n')
    // The client config's default key is who "I" am.
    assert.equal((await runPolar(['config', 'set', 'key', 'work'], {home})).code, 0)
    assert.deepEqual(json(await runPolar(['whoami', '--json'], {home})), {name: 'work', did: b.did})
    assert.equal((await runPolar(['config', 'unset', 'key'], {home})).code, 0)
  })

  it('keygen on an existing name refuses and shows that name\'s did', async () => {
    const did = json(await runPolar(['whoami', '--json'], {home})).did
    const r = await runPolar(['keygen'], {home})
    assert.equal(r.code, 2)
    assert.ok(r.stderr.includes(did), r.stderr)
    const j = await runPolar(['keygen', '--json'], {home})
    assert.equal(json(j).error.code, 'EXISTS')
    assert.ok(json(j).error.message.includes(did))
  })

  it('an unreadable key file is listed with its reason, not hidden and not a crash', async () => {
    const path = join(home, 'keys', 'broken')
    writeFileSync(path, 'not json')
    chmodSync(path, 0o600)
    const k = await runPolar(['keys', '--json'], {home})
    assert.equal(k.code, 0, k.stderr)
    const broken = json(k).find((e: any) => e.name === 'broken')
    assert.equal(broken.did, null)
    assert.match(broken.error, /not valid JSON/)
  })
})
