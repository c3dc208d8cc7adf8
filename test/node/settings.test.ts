import assert from 'node:assert/strict'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {InputError} from '../../src/lib/errors.js'
import {DEFAULT_SETTINGS} from '../../src/lib/node/context.js'
import {loadSettings} from '../../src/lib/settings.js'
import {tmpHome} from '../helpers.js'

// settings.json is checked by hand since issue 15 (conf and ajv held ~17 MB in every idle node): the checks must still bite.
describe('settings.json', () => {
  const {home, cleanup} = tmpHome()
  after(cleanup)
  const write = (v: unknown) => writeFileSync(join(home, 'settings.json'), typeof v === 'string' ? v : JSON.stringify(v))

  it('is optional: the defaults without a file', async () => {
    assert.deepEqual(await loadSettings(home), DEFAULT_SETTINGS)
  })

  it('overrides the defaults with what it holds', async () => {
    write({replicas: 5, rate: 0.5, seeds: ['http://127.0.0.1:1'], dialPrivate: null, limitLoopback: true})
    const s = await loadSettings(home)
    assert.equal(s.replicas, 5)
    assert.equal(s.rate, 0.5)
    assert.deepEqual(s.seeds, ['http://127.0.0.1:1'])
    assert.equal(s.dialPrivate, null)
    assert.equal(s.pingIntervalMs, DEFAULT_SETTINGS.pingIntervalMs)
    write({maxStorageBytes: null})
    assert.equal((await loadSettings(home)).maxStorageBytes, null)
    write({maxStorageBytes: 1024})
    assert.equal((await loadSettings(home)).maxStorageBytes, 1024)
  })

  for (const [what, v, msg] of [
    ['a value below its minimum', {replicas: 0}, /`replicas` must be >= 1/],
    ['a value above its maximum', {replicas: 65}, /`replicas` must be <= 64/],
    ['a fraction for an integer', {maxConnections: 1.5}, /`maxConnections` must be integer/],
    ['a string for a number', {rate: '50'}, /`rate` must be number/],
    ['a rate of zero', {rate: 0}, /`rate` must be > 0/],
    ['a seed that is not a URL', {seeds: ['ftp://x']}, /`seeds` items must be strings matching/],
    ['too many seeds', {seeds: Array(65).fill('http://a')}, /`seeds` must have at most 64 items/],
    ['a string for a boolean', {limitLoopback: 'yes'}, /`limitLoopback` must be boolean/],
    ['a number where boolean or null is expected', {dialPrivate: 1}, /`dialPrivate` must be boolean or null/],
    ['a storage cap of zero', {maxStorageBytes: 0}, /`maxStorageBytes` must be >= 1/],
    ['a storage cap as text', {maxStorageBytes: '10G'}, /`maxStorageBytes` must be integer/],
    ['an array instead of an object', [1], /expected a JSON object/],
    ['text that is not JSON', '{replicas: 2', /not JSON/],
  ] as Array<[string, unknown, RegExp]>) {
    it(`refuses ${what} with an input error naming the file`, async () => {
      write(v)
      await assert.rejects(loadSettings(home), (e: unknown) => e instanceof InputError && e.message.includes('settings.json') && msg.test(e.message))
    })
  }
})
