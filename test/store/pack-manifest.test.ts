// Pack manifests (issue 20, point 2): frames are found from the end of a pack,
// past garbage, through the chain of regions, and by a forward scan where a
// damaged frame breaks the chain.
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {closeSync, openSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {cidOf} from '../../src/lib/content/cid.js'
import {RAW_CODE} from '../../src/lib/content/constants.js'
import {decodeFrame, encodeFrame, readFrames, type ManifestEntry} from '../../src/lib/store/pack-manifest.js'
import {tmpHome} from '../helpers.js'

/** A pack of `regions` checkpoints of random blocks, each followed by its frame; returns the bytes and the entries. */
function pack(regions: number[], prefix = 0): {bytes: Buffer; entries: ManifestEntry[][]; ends: number[]} {
  const parts: Buffer[] = [randomBytes(prefix)]
  let pos = prefix
  const entries: ManifestEntry[][] = []
  const ends: number[] = []
  for (const n of regions) {
    const start = pos
    const list: ManifestEntry[] = []
    for (let i = 0; i < n; i++) {
      const b = randomBytes(100 + i * 37)
      list.push({cid: cidOf(RAW_CODE, b).bytes, offset: pos, length: b.length, codec: 0})
      parts.push(b)
      pos += b.length
    }
    const frame = encodeFrame(start, list)
    parts.push(frame)
    pos += frame.length
    entries.push(list)
    ends.push(pos)
  }
  return {bytes: Buffer.concat(parts), entries, ends}
}

describe('pack manifests', () => {
  const {home, cleanup} = tmpHome('polar-manifest-')
  after(cleanup)
  const read = (bytes: Buffer, limit = bytes.length, stopAt = 0) => {
    const path = join(home, `p${Math.random()}`)
    writeFileSync(path, bytes)
    const fd = openSync(path, 'r')
    try {
      return readFrames(fd, limit, stopAt)
    } finally {
      closeSync(fd)
    }
  }

  it('a frame decodes to what was encoded; a flipped byte makes it no frame', () => {
    const {bytes, entries} = pack([3])
    const end = bytes.length
    const len = bytes.readUInt32LE(end - 16)
    const f = decodeFrame(bytes.subarray(end - len), end - len)
    assert.ok(f)
    assert.deepEqual(f.entries.map((e) => [Buffer.from(e.cid).toString('hex'), e.offset, e.length]), entries[0].map((e) => [Buffer.from(e.cid).toString('hex'), e.offset, e.length]))
    const bad = Buffer.from(bytes.subarray(end - len))
    bad[30] ^= 1
    assert.equal(decodeFrame(bad, end - len), undefined)
  })

  it('walks the chain back from the end, past crash garbage, and stops at the limit', () => {
    const {bytes, entries, ends} = pack([2, 5, 1, 4])
    const withGarbage = Buffer.concat([bytes, randomBytes(300_000)])
    const r = read(withGarbage)
    assert.equal(r.frames.length, 4)
    assert.deepEqual(r.frames.map((f) => f.entries.length), entries.map((e) => e.length))
    assert.deepEqual(r.frames.map((f) => f.end), ends)
    assert.equal(r.unframed, 0)
    // Only what ends before a limit (a committed size).
    assert.equal(read(bytes, ends[1]).frames.length, 2)
    // Only the regions after stopAt (an index that knows the start of the pack).
    assert.deepEqual(read(bytes, bytes.length, ends[1]).frames.map((f) => f.end), ends.slice(2))
  })

  it('a damaged frame in the middle: the frames before it are found by scanning forward', () => {
    const {bytes, ends} = pack([2, 3, 2, 2])
    const damaged = Buffer.from(bytes)
    damaged[ends[1] - 20] ^= 0xff // inside the second frame's crc
    const r = read(damaged)
    assert.deepEqual(r.frames.map((f) => f.end), [ends[0], ends[2], ends[3]])
  })

  it('bytes written before manifests existed are the unframed start', () => {
    const {bytes, ends} = pack([2, 2], 50_000)
    const r = read(bytes)
    assert.equal(r.unframed, 50_000)
    assert.deepEqual(r.frames.map((f) => f.end), ends)
  })
})
