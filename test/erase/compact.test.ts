// Pack compaction (docs/storage.md "Compaction") is crash-safe: a compactor
// killed with SIGKILL at random points never leaves an index row pointing at
// bytes that are not the block, never loses a live block, and the next run
// finishes the job and gives the space back.
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {cidOf} from '../../src/lib/content/cid.js'
import {RAW_CODE} from '../../src/lib/content/constants.js'
import {compactPacks} from '../../src/lib/store/compact.js'
import {openStore} from '../../src/lib/store/store.js'
import {ROOT, tmpHome} from '../helpers.js'

const MiB = 1024 * 1024
const CHILD = join(ROOT, 'test', 'erase', 'compact-child.ts')

function runChild(home: string, killAfterMs: number | undefined): Promise<{killed: boolean; out: string}> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, home], {cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe']})
    let out = ''
    let err = ''
    let timer: NodeJS.Timeout | undefined
    child.stdout.on('data', (d) => {
      out += d
      if (killAfterMs !== undefined && out.startsWith('start\n') && !timer) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs)
    })
    child.stderr.on('data', (d) => (err += d))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (signal === 'SIGKILL') resolve({killed: true, out})
      else if (code === 0) resolve({killed: false, out})
      else reject(new Error(`compactor exited ${code}: ${err}`))
    })
  })
}

describe('pack compaction', {timeout: 120_000}, () => {
  const {home, cleanup} = tmpHome('polar-compact-')
  after(cleanup)

  it('survives SIGKILL at random points and then reclaims the dead space', async () => {
    const blocks: Buffer[] = []
    const cids: ReturnType<typeof cidOf>[] = []
    const isLive = (i: number) => i % 3 === 0
    const check = () => {
      const s = openStore(home)
      try {
        for (let i = 0; i < blocks.length; i++) {
          if (isLive(i)) assert.ok(Buffer.from(s.blocks.get(cids[i])).equals(blocks[i]), `live block ${i} intact`)
          else assert.equal(s.blocks.has(cids[i]), false, `erased block ${i} stays erased`)
        }
      } finally {
        s.close()
      }
    }
    let kills = 0
    /** Kills that landed before the compactor reported its result: mid-work. */
    let midWork = 0
    let runs = 0
    // Three rounds: new blocks, two of every three erased, then compactors killed at random
    // moments (0-40 ms into the work) until one finishes.
    for (let trial = 0; trial < 3; trial++) {
      const store = openStore(home)
      const w = store.blocks.writer()
      const first = blocks.length
      for (let i = 0; i < 24; i++) {
        const b = randomBytes(MiB - Math.floor(Math.random() * 1000))
        blocks.push(b)
        cids.push(cidOf(RAW_CODE, b))
        await w.put(cids.at(-1)!, b)
      }
      await w.close()
      const dead = cids.slice(first).filter((_, j) => !isLive(first + j))
      assert.equal(store.blocks.deleteBlocks(dead).deleted, dead.length)
      store.close()
      for (let attempt = 0; attempt < 5; attempt++) {
        const r = await runChild(home, attempt === 4 ? undefined : Math.floor(Math.random() * 40))
        runs++
        if (r.killed) kills++
        if (r.killed && !r.out.includes('{')) midWork++
        check()
        if (!r.killed) break
      }
    }
    check()
    // The pack files now hold the live bytes only (no orphan left, dead space gone).
    const live = blocks.filter((_, i) => isLive(i)).reduce((n, b) => n + b.length, 0)
    const onDisk = readdirSync(join(home, 'blocks')).reduce((n, f) => n + statSync(join(home, 'blocks', f)).size, 0)
    assert.ok(onDisk <= live + MiB, `${onDisk} bytes on disk for ${live} live`)
    process.stderr.write(`compaction: ${kills} SIGKILL(s) (${midWork} before the compactor finished) in ${runs} runs survived; ${onDisk} bytes on disk for ${live} live (written ${blocks.reduce((n, b) => n + b.length, 0)})\n`)
    // Else the test proved nothing about crashes: every compactor finished before its kill.
    assert.ok(midWork > 0, 'at least one compactor was killed part way')
    const s = openStore(home)
    try {
      assert.deepEqual(await compactPacks(s.blocks, {minDeadBytes: 1, deadRatio: 0.1}), {packs: 0, reclaimed: 0, deferred: 0}, 'nothing left to do')
    } finally {
      s.close()
    }
  })
})
