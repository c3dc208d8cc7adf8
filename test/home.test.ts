import assert from 'node:assert/strict'
import {homedir} from 'node:os'
import {join, resolve} from 'node:path'
import {describe, it} from 'node:test'
import {resolveHome} from '../src/lib/home.js'

describe('resolveHome', () => {
  it('--home, then POLAR_HOME, then $XDG_DATA_HOME/polar, then ~/.local/share/polar', () => {
    const env = {POLAR_HOME: '/p', XDG_DATA_HOME: '/x'}
    assert.equal(resolveHome('/flag', env), '/flag')
    assert.equal(resolveHome('rel/dir', env), resolve('rel/dir'))
    assert.equal(resolveHome(undefined, env), '/p')
    assert.equal(resolveHome(undefined, {XDG_DATA_HOME: '/x'}), '/x/polar')
    assert.equal(resolveHome(undefined, {}), join(homedir(), '.local', 'share', 'polar'))
    // The XDG spec: a relative XDG_DATA_HOME is invalid and ignored.
    assert.equal(resolveHome(undefined, {XDG_DATA_HOME: 'relative'}), join(homedir(), '.local', 'share', 'polar'))
  })
})
