// Issue 20, point 3: a push racing an erase of the same content must never be
// acknowledged with blocks missing. The interleavings are injected at the two
// moments that lost blocks before: the erase sweeping between the push's
// deduplication and its record, and a record landing between the sweep's mark
// and its deletion. Then the same race across processes, with the real CLI.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {readFileSync, writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {CID} from 'multiformats/cid'
import {eraseLocal, Erasures} from '../../src/lib/erase/index.js'
import {generateSecretKey, identityFromSecret} from '../../src/lib/identity/index.js'
import {pullObject, pushObject} from '../../src/lib/objects/index.js'
import {signObjectRecord} from '../../src/lib/records/index.js'
import type {PackWriter} from '../../src/lib/store/block-store.js'
import {openStore, type Store} from '../../src/lib/store/store.js'
import {json, runPolar, tmpHome} from '../helpers.js'

const MiB = 1024 * 1024
const alice = identityFromSecret('alice', generateSecretKey())

/** Pulls `cid` from the store into a file and returns its bytes (throws as `polar pull` would). */
async function pulled(store: Store, cid: string): Promise<Buffer> {
  const out = join(store.home, `pulled-${cid.slice(-8)}`)
  await pullObject(store, {cid, output: out})
  return readFileSync(out)
}

describe('a push racing an erase of the same content', () => {
  const homes: Array<() => void> = []
  after(() => homes.forEach((c) => c()))
  const fresh = () => {
    const {home, cleanup} = tmpHome('polar-race-')
    homes.push(cleanup)
    return {home, store: openStore(home)}
  }

  it('the erase sweeping after the push deduplicated some blocks: the push still pulls', async () => {
    const {home, store} = fresh()
    try {
      const data = randomBytes(5 * MiB + 77)
      writeFileSync(join(home, 'a.bin'), data)
      const first = await pushObject(store, alice, {file: join(home, 'a.bin'), name: 'a'})
      // Watch the push's writer, to know when the first leaves went through it (deduplicated).
      const taken = new Set<string>()
      const make = store.blocks.writer.bind(store.blocks)
      store.blocks.writer = (options) => {
        const w: PackWriter = make(options)
        const put = w.put.bind(w)
        w.put = async (cid, bytes, opts) => {
          await put(cid, bytes, opts)
          taken.add(cid.toString())
        }
        return w
      }
      const leaves = Array.from({length: 3}, (_, i) => data.subarray(i * MiB, (i + 1) * MiB))
      let erased = 0
      async function* source() {
        for (let i = 0; i < 6; i++) {
          yield data.subarray(i * MiB, Math.min(data.length, (i + 1) * MiB))
          if (i === 2) {
            // Wait until the first three leaves went through the writer (all three already stored).
            const {cidOf} = await import('../../src/lib/content/cid.js')
            const cids = leaves.map((l) => cidOf(0x55, l))
            const since = Date.now()
            while (!cids.every((c) => taken.has(c.toString()))) {
              // A safety net against a hang, not a timing assertion.
              if (Date.now() - since > 30_000) throw new Error('the first leaves never went through the writer')
              await new Promise((r) => setImmediate(r))
            }
            // The owner erases the first object now, in this very store: its record goes, and
            // the sweep deletes every block no remaining record needs.
            erased = eraseLocal(store, alice, first.cid).blocks
          }
        }
      }
      const second = await pushObject(store, alice, {file: '-', stream: source(), name: 'b'})
      assert.equal(second.cid, first.cid, 'same content, same root')
      assert.equal(second.newBlocks < second.blocks, true, 'the push deduplicated against the first copy')
      assert.ok(erased > 0, 'the erase swept blocks meanwhile')
      // Acknowledged: it must pull, byte for byte.
      assert.ok((await pulled(store, second.cid)).equals(data), 'the acknowledged push pulls back')
      // And the pins are gone with the writer: erasing the second object now frees everything.
      eraseLocal(store, alice, second.cid)
      assert.equal(store.blocks.has(CID.parse(second.cid)), false)
      assert.equal(store.db.prepare('SELECT count(*) FROM block_pins').pluck().get(), 0)
    } finally {
      store.close()
    }
  })

  it('a record stored between the sweep\'s mark and its deletion keeps its blocks', async () => {
    const {home, store} = fresh()
    try {
      const data = randomBytes(3 * MiB + 5)
      writeFileSync(join(home, 'a.bin'), data)
      const first = await pushObject(store, alice, {file: join(home, 'a.bin'), name: 'a'})
      const second = signObjectRecord({root: CID.parse(first.cid), size: data.length, name: 'b', mime: 'application/octet-stream', tags: [], time: Date.now()}, alice)
      const erasures = new Erasures(store)
      const [target] = erasures.recordsFor(first.record)
      assert.ok(target)
      // Another writer's record (same root) commits just before the sweep deletes.
      const del = store.blocks.deleteBlocks.bind(store.blocks)
      store.blocks.deleteBlocks = (cids) => {
        store.records.putObject(second.bytes)
        return del(cids)
      }
      const {signErasures} = await import('../../src/lib/erase/index.js')
      erasures.apply(signErasures([target], alice)[0])
      assert.equal(store.records.objectsByRoot(first.cid).length, 1, 'the second record is live')
      assert.ok((await pulled(store, first.cid)).equals(data), 'its object pulls back')
    } finally {
      store.close()
    }
  })

  it('pins of a writer that died (a SIGKILLed push) do not keep an erased object\'s blocks', async () => {
    const {home, store} = fresh()
    try {
      writeFileSync(join(home, 'a.bin'), randomBytes(2 * MiB))
      const first = await pushObject(store, alice, {file: join(home, 'a.bin')})
      const dead = spawnSync(process.execPath, ['-e', '0']).pid
      store.db.prepare('INSERT INTO block_pins (holder, writer, cid, lease_until) VALUES (?, 1, ?, ?)').run(`${hostname()}:${dead}`, CID.parse(first.cid).bytes, Date.now() + 3_600_000)
      assert.equal(eraseLocal(store, alice, first.cid).blocks, 3, 'root and both leaves')
      assert.equal(store.db.prepare('SELECT count(*) FROM block_pins').pluck().get(), 0, 'the dead holder\'s pins are gone')
    } finally {
      store.close()
    }
  })

  it('across processes: every acknowledged push pulls back, over many rounds', async () => {
    const {home, cleanup} = tmpHome('polar-race-cli-')
    homes.push(cleanup)
    const data = randomBytes(4 * MiB + 3)
    const file = join(home, 'data.bin')
    writeFileSync(file, data)
    let acked = 0
    for (let round = 0; round < 6; round++) {
      const first = await runPolar(['push', file, '--name', `a${round}`, '--json'], {home})
      assert.equal(first.code, 0, first.stderr)
      const root = json(first).cid
      // The erase and a second push of the same bytes (another name: a new record) at once.
      const [erase, push] = await Promise.all([
        runPolar(['erase', json(first).record, '--json'], {home}),
        runPolar(['push', file, '--name', `b${round}`, '--json'], {home}),
      ])
      assert.equal(erase.code, 0, erase.stderr)
      if (push.code !== 0) continue
      acked++
      const pull = await runPolar(['pull', root], {home})
      assert.equal(pull.code, 0, `round ${round}: push acknowledged, pull failed: ${pull.stderr}`)
      assert.ok(pull.stdout.equals(data), `round ${round}: the bytes differ`)
      // Start the next round from nothing.
      const clear = await runPolar(['erase', root, '--json'], {home})
      assert.equal(clear.code, 0, clear.stderr)
    }
    assert.ok(acked > 0, 'some pushes were acknowledged')
  })
})
