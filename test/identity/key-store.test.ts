import assert from 'node:assert/strict'
import {chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {InputError, IntegrityError, NotFoundError, PolarError} from '../../src/lib/errors.js'
import {isDid} from '../../src/lib/identity/did.js'
import {DEFAULT_KEY_NAME, KeyStore} from '../../src/lib/identity/key-store.js'
import {verifySignature} from '../../src/lib/identity/keys.js'
import {tmpHome} from '../helpers.js'

const mode = (p: string) => statSync(p).mode & 0o777

describe('KeyStore', () => {
  const homes: Array<() => void> = []
  after(() => homes.forEach((c) => c()))
  const fresh = () => {
    const {home, cleanup} = tmpHome('polar-keys-')
    homes.push(cleanup)
    return home
  }

  it('creates a key file at 0600 in a 0700 directory, and loads it back', () => {
    const home = fresh()
    const ks = new KeyStore(home)
    const {identity, path} = ks.create('alice')
    assert.equal(path, join(home, 'keys', 'alice'))
    assert.equal(mode(path), 0o600)
    assert.equal(mode(join(home, 'keys')), 0o700)
    assert.ok(isDid(identity.did))
    const loaded = ks.load('alice')
    assert.equal(loaded.did, identity.did)
    const msg = new TextEncoder().encode('m')
    assert.ok(verifySignature(identity.did, msg, loaded.sign(msg)))
    // No temp files left beside it.
    assert.deepEqual(readdirSync(join(home, 'keys')), ['alice'])
    assert.deepEqual(ks.list(), ['alice'])
  })

  it('tightens a keys directory that exists with looser permissions', () => {
    const home = fresh()
    mkdirSync(join(home, 'keys'), {mode: 0o755})
    chmodSync(join(home, 'keys'), 0o755)
    new KeyStore(home).create('k')
    assert.equal(mode(join(home, 'keys')), 0o700)
  })

  it('refuses to overwrite without force, and replaces with force', () => {
    const home = fresh()
    const ks = new KeyStore(home)
    const first = ks.create('bob').identity
    const before = readFileSync(join(home, 'keys', 'bob'))
    assert.throws(() => ks.create('bob'), (err: unknown) => err instanceof PolarError && err.code === 'EXISTS')
    assert.deepEqual(readFileSync(join(home, 'keys', 'bob')), before, 'the refused create left the key alone')
    const second = ks.create('bob', {force: true}).identity
    assert.notEqual(second.did, first.did)
    assert.equal(ks.load('bob').did, second.did)
    assert.equal(mode(join(home, 'keys', 'bob')), 0o600)
    assert.deepEqual(readdirSync(join(home, 'keys')), ['bob'])
  })

  it('loadOrCreate makes "default" on first use and returns the same one after', () => {
    const home = fresh()
    const ks = new KeyStore(home)
    assert.equal(ks.has(DEFAULT_KEY_NAME), false)
    const a = ks.loadOrCreate()
    assert.equal(DEFAULT_KEY_NAME, 'default')
    assert.equal(a.name, 'default')
    assert.equal(mode(join(home, 'keys', 'default')), 0o600)
    assert.equal(ks.loadOrCreate().did, a.did)
    assert.equal(ks.loadOrCreate('default').did, a.did)
  })

  it('loadOrCreate does not invent other names: NotFoundError', () => {
    const ks = new KeyStore(fresh())
    assert.throws(() => ks.loadOrCreate('work'), NotFoundError)
    assert.throws(() => ks.load('work'), NotFoundError)
    assert.equal(ks.has('work'), false)
  })

  it('rejects key names that are not plain file names', () => {
    const ks = new KeyStore(fresh())
    for (const name of ['', '.', '..', '../x', 'a/b', '.hidden', '-dash', 'a b', 'x'.repeat(65), 'ä']) {
      assert.throws(() => ks.create(name), InputError, JSON.stringify(name))
      assert.throws(() => ks.load(name), InputError, JSON.stringify(name))
    }
    assert.doesNotThrow(() => ks.create('x'.repeat(64)))
    assert.doesNotThrow(() => ks.create('a.b_c-D9'))
  })

  it('refuses a key file readable by others', () => {
    const home = fresh()
    const ks = new KeyStore(home)
    ks.create('k')
    chmodSync(join(home, 'keys', 'k'), 0o644)
    assert.throws(() => ks.load('k'), (err: unknown) => err instanceof PolarError && err.code === 'KEY_PERMISSIONS')
  })

  it('detects a tampered key file', () => {
    const home = fresh()
    const ks = new KeyStore(home)
    const other = ks.create('other').identity
    ks.create('k')
    const path = join(home, 'keys', 'k')
    const file = JSON.parse(readFileSync(path, 'utf8'))
    writeFileSync(path, JSON.stringify({...file, did: other.did}), {mode: 0o600})
    assert.throws(() => ks.load('k'), IntegrityError)
    writeFileSync(path, '{not json', {mode: 0o600})
    assert.throws(() => ks.load('k'), IntegrityError)
    writeFileSync(path, JSON.stringify({...file, secretKey: Buffer.alloc(16).toString('base64')}), {mode: 0o600})
    assert.throws(() => ks.load('k'), IntegrityError)
  })

  it('gives different keys to different names', () => {
    const ks = new KeyStore(fresh())
    const dids = new Set(['a', 'b', 'c'].map((n) => ks.create(n).identity.did))
    assert.equal(dids.size, 3)
    assert.deepEqual(ks.list(), ['a', 'b', 'c'])
  })
})
