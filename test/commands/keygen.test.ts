import assert from 'node:assert/strict'
import {readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {isDid} from '../../src/lib/identity/did.js'
import {KeyStore} from '../../src/lib/identity/key-store.js'
import {json, runPolar, tmpHome} from '../helpers.js'

describe('polar keygen', () => {
  const {home, cleanup} = tmpHome()
  after(cleanup)

  it('--json prints {name, did, path} and writes the key at 0600', async () => {
    const r = await runPolar(['keygen', '--json'], {home})
    assert.equal(r.code, 0, r.stderr)
    const out = json(r)
    assert.deepEqual(Object.keys(out).sort(), ['did', 'name', 'path'])
    assert.equal(out.name, 'default')
    assert.ok(isDid(out.did) && out.did.startsWith('did:key:z6Mk'), out.did)
    assert.equal(out.path, join(home, 'keys', 'default'))
    assert.equal(statSync(out.path).mode & 0o777, 0o600)
    assert.equal(statSync(join(home, 'keys')).mode & 0o777, 0o700)
    // The file holds the key the did names.
    assert.equal(new KeyStore(home).load('default').did, out.did)
  })

  it('refuses a second run without --force (non-zero, key unchanged)', async () => {
    const before = readFileSync(join(home, 'keys', 'default'))
    const r = await runPolar(['keygen'], {home})
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /--force/)
    assert.equal(r.stdout.length, 0)
    const j = await runPolar(['keygen', '--json'], {home})
    assert.notEqual(j.code, 0)
    assert.equal(typeof json(j).error.code, 'string')
    assert.equal(typeof json(j).error.message, 'string')
    assert.deepEqual(readFileSync(join(home, 'keys', 'default')), before)
  })

  it('replaces the key with --force', async () => {
    const old = new KeyStore(home).load('default').did
    const r = await runPolar(['keygen', '--force', '--json'], {home})
    assert.equal(r.code, 0, r.stderr)
    assert.notEqual(json(r).did, old)
    assert.equal(new KeyStore(home).load('default').did, json(r).did)
  })

  it('--name creates another identity; human output is the did alone on stdout', async () => {
    const r = await runPolar(['keygen', '--name', 'work'], {home})
    assert.equal(r.code, 0, r.stderr)
    const did = r.stdout.toString().trim()
    assert.ok(isDid(did), did)
    assert.equal(r.stdout.toString(), did + '\n')
    assert.equal(new KeyStore(home).load('work').did, did)
  })

  it('a bad name is bad input (exit 2)', async () => {
    const r = await runPolar(['keygen', '--name', '../evil', '--json'], {home})
    assert.equal(r.code, 2)
    assert.equal(json(r).error.code, 'BAD_INPUT')
  })

  it('honours --home over POLAR_HOME', async () => {
    const other = tmpHome()
    try {
      const r = await runPolar(['keygen', '--home', other.home, '--json'], {home})
      assert.equal(r.code, 0, r.stderr)
      assert.equal(json(r).path, join(other.home, 'keys', 'default'))
    } finally {
      other.cleanup()
    }
  })
})
