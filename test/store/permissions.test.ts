// Issue 20, point 11: what other users of the machine can read in a home.
// Files polar creates are 0600 and its directories 0700 whatever the umask;
// an existing home open to others is warned about, and polar's own files and
// directories in it are closed.
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {chmodSync, existsSync, mkdirSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {generateSecretKey, identityFromSecret, KeyStore} from '../../src/lib/identity/index.js'
import {pushObject} from '../../src/lib/objects/index.js'
import {openStore} from '../../src/lib/store/store.js'
import {runPolar, tmpHome} from '../helpers.js'

const mode = (path: string) => statSync(path).mode & 0o777

describe('permissions in POLAR_HOME', () => {
  const homes: Array<() => void> = []
  after(() => homes.forEach((c) => c()))

  it('under umask 000, polar.db, its -wal and -shm, packs and keys are 0600, directories 0700', async () => {
    const {home, cleanup} = tmpHome('polar-perm-')
    homes.push(cleanup)
    const old = process.umask(0)
    try {
      const store = openStore(join(home, 'h'))
      try {
        const h = join(home, 'h')
        writeFileSync(join(home, 'in'), randomBytes(3000))
        await pushObject(store, identityFromSecret('a', generateSecretKey()), {file: join(home, 'in')})
        new KeyStore(h).create('default')
        // -wal and -shm exist while the database is open.
        for (const f of ['polar.db', 'polar.db-wal', 'polar.db-shm', join('blocks', 'pack-000001'), join('keys', 'default')]) {
          assert.equal(mode(join(h, f)), 0o600, `${f} is ${mode(join(h, f)).toString(8)}`)
        }
        for (const d of ['.', 'blocks', 'keys']) assert.equal(mode(join(h, d)), 0o700, `${d} is ${mode(join(h, d)).toString(8)}`)
      } finally {
        store.close()
      }
    } finally {
      process.umask(old)
    }
  })

  it('a home open to others is warned about; polar.db, settings.json and keys/ in it are closed', async () => {
    const {home, cleanup} = tmpHome('polar-perm-')
    homes.push(cleanup)
    // A home as an older polar, a loose umask or a hand-made directory left it.
    const first = await runPolar(['push', '-', '-q'], {home, input: randomBytes(1000)})
    assert.equal(first.code, 0, first.stderr)
    chmodSync(home, 0o755)
    chmodSync(join(home, 'polar.db'), 0o644)
    chmodSync(join(home, 'keys'), 0o755)
    writeFileSync(join(home, 'settings.json'), '{}\n', {mode: 0o644})
    chmodSync(join(home, 'settings.json'), 0o644)
    mkdirSync(join(home, 'node'), {mode: 0o755})
    chmodSync(join(home, 'node'), 0o755)

    const r = await runPolar(['search', '--json'], {home})
    assert.equal(r.code, 0, r.stderr)
    JSON.parse(r.stdout.toString()) // warnings stay off stdout
    assert.match(r.stderr, new RegExp(`warning: POLAR_HOME ${home} is open to other users \\(mode 0755\\).*chmod 700`))
    assert.match(r.stderr, /polar\.db was open to other users \(mode 0644\); it is 0600 now/)
    assert.match(r.stderr, /keys was open to other users \(mode 0755\); it is 0700 now/)
    assert.equal(mode(join(home, 'polar.db')), 0o600)
    assert.equal(mode(join(home, 'settings.json')), 0o600)
    assert.equal(mode(join(home, 'keys')), 0o700)
    assert.equal(mode(join(home, 'node')), 0o700)
    assert.equal(mode(home), 0o755, 'the home itself is the user\'s to close; polar only warns')
    assert.ok(existsSync(join(home, 'keys', 'default')))

    // Once closed, no more warnings about those.
    chmodSync(home, 0o700)
    const again = await runPolar(['search', '--json'], {home})
    assert.equal(again.code, 0, again.stderr)
    assert.doesNotMatch(again.stderr, /warning/)
  })
})
