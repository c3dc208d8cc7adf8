// White-box check of the ordering crash safety rests on (docs/storage.md): the
// index only ever commits blocks whose bytes are already in the pack file AND
// made durable by an fsync/fdatasync of that file. A kill test cannot see a
// commit that runs ahead of its writes by a few milliseconds; this test can.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import {syncBuiltinESMExports} from 'node:module'
import {after, before, describe, it} from 'node:test'
import {CID} from 'multiformats/cid'
import {blockMatches, cidOf} from '../../src/lib/content/cid.js'
import {RAW_CODE} from '../../src/lib/content/constants.js'
import {CHECKPOINT_BYTES} from '../../src/lib/store/block-store.js'
import {frameLength} from '../../src/lib/store/pack-manifest.js'
import {openStore} from '../../src/lib/store/store.js'
import {MiB, prng} from '../content/oracle.js'
import {tmpHome} from '../helpers.js'

type Ev = {kind: 'write-done'; fd: number; pos: number} | {kind: 'sync-done'; fd: number}

describe('PackWriter durability ordering', () => {
  const {home, cleanup} = tmpHome('polar-durable-')
  const events: Ev[] = []
  const packFds = new Set<number>()
  const saved: Record<string, any> = {}
  const wrap = (name: string, make: (orig: any) => any) => {
    saved[name] = (fs as any)[name]
    ;(fs as any)[name] = make(saved[name])
  }

  before(() => {
    wrap('openSync', (orig) => (path: fs.PathLike, ...rest: any[]) => {
      const fd = orig(path, ...rest)
      if (/pack-\d+$/.test(String(path)) && rest[0] !== 'r') packFds.add(fd)
      return fd
    })
    wrap('write', (orig) => (fd: number, ...rest: any[]) => {
      const cb = rest.at(-1)
      const pos = typeof rest[3] === 'number' ? rest[3] : -1
      if (typeof cb !== 'function' || !packFds.has(fd)) return orig(fd, ...rest)
      return orig(fd, ...rest.slice(0, -1), (...res: any[]) => {
        if (!res[0]) events.push({kind: 'write-done', fd, pos})
        cb(...res)
      })
    })
    for (const name of ['fdatasync', 'fsync']) {
      wrap(name, (orig) => (fd: number, cb: (err: Error | null) => void) => orig(fd, (err: Error | null) => {
        if (!err) events.push({kind: 'sync-done', fd})
        cb(err)
      }))
    }
    for (const name of ['fdatasyncSync', 'fsyncSync']) {
      wrap(name, (orig) => (fd: number) => {
        orig(fd)
        events.push({kind: 'sync-done', fd})
      })
    }
    syncBuiltinESMExports()
  })

  after(() => {
    Object.assign(fs, saved)
    syncBuiltinESMExports()
    cleanup()
  })

  it('commits only blocks already written and synced, at every checkpoint and at close', async () => {
    const store = openStore(home)
    const commits: Array<{blocks: number; to: number}> = []
    const problems: string[] = []
    const origCommit = store.blocks.commit.bind(store.blocks)
    store.blocks.commit = (pack: number, holder: string, from: number, to: number, entries: any[], pins?: any) => {
      const path = store.blocks.packPath(pack)
      const fd = fs.openSync(path, 'r')
      try {
        for (const [cidBytes, offset, length] of entries) {
          const buf = Buffer.alloc(length)
          const n = fs.readSync(fd, buf, 0, length, offset)
          if (n !== length || !blockMatches(CID.decode(cidBytes), buf)) problems.push(`commit up to ${to}: block at ${offset} not yet in the pack`)
        }
      } finally {
        fs.closeSync(fd)
      }
      // Every write below `to` completed before some sync of that fd that completed before now.
      let lastWrite = -1
      let lastSync = -1
      events.forEach((e, i) => {
        if (e.kind === 'write-done' && e.pos < to) lastWrite = i
        if (e.kind === 'sync-done' && packFds.has(e.fd)) lastSync = i
      })
      if (lastSync < 0) problems.push(`commit up to ${to}: the pack was never synced`)
      else if (lastWrite > lastSync) problems.push(`commit up to ${to}: a write below it completed after the last sync`)
      commits.push({blocks: entries.length, to})
      return origCommit(pack, holder, from, to, entries, pins)
    }
    try {
      const total = 2 * CHECKPOINT_BYTES + 5 * MiB + 123
      const base = prng(MiB, 99)
      const w = store.blocks.writer()
      let put = 0
      for (let i = 0; put < total; i++) {
        const bytes = base.slice(0, Math.min(MiB, total - put))
        new DataView(bytes.buffer).setUint32(0, i)
        await w.put(cidOf(RAW_CODE, bytes), bytes)
        put += bytes.length
      }
      await w.close()
      assert.ok(events.some((e) => e.kind === 'write-done'), 'pack writes were observed (else this test needs updating)')
      assert.ok(commits.length >= 2, `checkpoints before close (${commits.length} commits)`)
      // The pack ends with the last checkpoint's manifest; each checkpoint appended one after its blocks.
      const frames = commits.reduce((n, c) => n + frameLength(Array(c.blocks).fill(36)), 0)
      assert.equal(commits.at(-1)!.to, total + frames)
      assert.deepEqual(problems, [])
      assert.equal(store.blocks.stats().bytes, total)
    } finally {
      store.close()
    }
  })
})
