import assert from 'node:assert/strict'
import {closeSync, existsSync, mkdirSync, openSync, readdirSync, readSync, writeFileSync, writeSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {CID} from 'multiformats/cid'
import {cidOf} from '../../src/lib/content/cid.js'
import {RAW_CODE} from '../../src/lib/content/constants.js'
import {openStore} from '../../src/lib/store/store.js'
import {MiB, prng} from '../content/oracle.js'
import {json, runPolar, tmpHome} from '../helpers.js'

/** Flips one bit of `cid`'s stored bytes at `at` in its pack, as disk rot would. */
function rot(home: string, cid: CID, at: number): void {
  const store = openStore(home)
  try {
    const loc = store.db.prepare('SELECT pack, offset, length FROM blocks WHERE cid = ?').get(cid.bytes) as {pack: number; offset: number; length: number}
    assert.ok(loc, `block ${cid} is indexed`)
    const fd = openSync(store.blocks.packPath(loc.pack), 'r+')
    const b = Buffer.alloc(1)
    readSync(fd, b, 0, 1, loc.offset + (at % loc.length))
    b[0] ^= 0x20
    writeSync(fd, b, 0, 1, loc.offset + (at % loc.length))
    closeSync(fd)
  } finally {
    store.close()
  }
}

describe('bytes rotting in a pack', () => {
  const {home, cleanup} = tmpHome()
  after(cleanup)
  const out = join(home, 'out')
  mkdirSync(out)

  it('a corrupt leaf: pull exits 4, INTEGRITY under --json, no -o file, nothing of that leaf on stdout', async () => {
    const data = prng(3 * MiB + 5, 42)
    const file = join(home, 'three.bin')
    writeFileSync(file, data)
    const push = await runPolar(['push', file, '--json'], {home})
    assert.equal(push.code, 0, push.stderr)
    const {cid} = json(push)
    const second = cidOf(RAW_CODE, data.subarray(MiB, 2 * MiB))
    rot(home, second, 12345)

    const target = join(out, 'three.bin')
    const r = await runPolar(['pull', cid, '-o', target, '--json'], {home})
    assert.equal(r.code, 4, r.stderr)
    const doc = json(r)
    assert.equal(doc.error.code, 'INTEGRITY')
    assert.equal(typeof doc.error.message, 'string')
    assert.equal(existsSync(target), false)
    assert.deepEqual(readdirSync(out), [], 'the temp file is gone too')

    const s = await runPolar(['pull', cid], {home})
    assert.equal(s.code, 4)
    assert.ok(s.stdout.length <= MiB, `${s.stdout.length} bytes on stdout`)
    assert.ok(s.stdout.equals(Buffer.from(data.subarray(0, s.stdout.length))))
    assert.match(s.stderr, /\S/, 'says what happened on stderr')
  })

  it('a corrupt one-block object: exit 4 and not a byte on stdout', async () => {
    const data = prng(5000, 43)
    const push = await runPolar(['push', '-', '-q'], {home, input: data})
    assert.equal(push.code, 0, push.stderr)
    const cid = CID.parse(push.stdout.toString().trim())
    rot(home, cid, 4999)
    const r = await runPolar(['pull', cid.toString()], {home})
    assert.equal(r.code, 4)
    assert.equal(r.stdout.length, 0)
  })

  it('a corrupt root node: exit 4 and not a byte on stdout', async () => {
    const data = prng(2 * MiB + 1, 44)
    const push = await runPolar(['push', '-', '-q'], {home, input: data})
    assert.equal(push.code, 0, push.stderr)
    const cid = CID.parse(push.stdout.toString().trim())
    rot(home, cid, 3)
    const r = await runPolar(['pull', cid.toString()], {home})
    assert.equal(r.code, 4)
    assert.equal(r.stdout.length, 0)
    const j = await runPolar(['pull', cid.toString(), '-o', join(out, 'root.bin'), '--json'], {home})
    assert.equal(j.code, 4)
    assert.equal(json(j).error.code, 'INTEGRITY')
    assert.deepEqual(readdirSync(out), [])
  })
})
