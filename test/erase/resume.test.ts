// An erase killed during its compaction (issue 20 point 4): the intent is in
// polar.db before any block is deleted, so the next store open (a `polar`
// command with no node) or the next node start finishes the compaction and
// the erased bytes leave the disk. Each case SIGKILLs a real process the
// moment its compaction creates the new pack file, checks that the kill did
// land part way (the erased bytes are still in a pack), then that the next
// open / start removes them while the live object stays whole.
import assert from 'node:assert/strict'
import {spawn, type ChildProcess} from 'node:child_process'
import {createHash, randomBytes} from 'node:crypto'
import {readdirSync, readFileSync, watch, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {json, tmpHome} from '../helpers.js'
import {CLI, Cluster, runPolar} from '../node/cluster.js'

const MiB = 1024 * 1024
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')
const PACK = /^pack-\d+$/

function packs(home: string): string[] {
  return readdirSync(join(home, 'blocks')).filter((n) => PACK.test(n))
}

/** How many of `samples` (slices of the erased object) are still somewhere in the pack files. */
function onDisk(home: string, samples: Buffer[]): number {
  const files: Buffer[] = []
  for (const n of packs(home)) {
    try {
      files.push(readFileSync(join(home, 'blocks', n)))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err // unlinked by a running compaction meanwhile
    }
  }
  return samples.filter((s) => files.some((f) => f.includes(s))).length
}

/**
 * SIGKILLs `child` as soon as a pack file not in `before` appears in
 * `home`/blocks (compaction's new pack: nothing else writes one during an
 * erase). False when the child exited first.
 */
function killOnNewPack(home: string, before: string[], child: ChildProcess): Promise<boolean> {
  return new Promise((resolve) => {
    const dir = join(home, 'blocks')
    let done = false
    const finish = (killed: boolean) => {
      if (done) return
      done = true
      watcher.close()
      resolve(killed)
    }
    const watcher = watch(dir, (_event, name) => {
      if (name && PACK.test(String(name)) && !before.includes(String(name))) {
        child.kill('SIGKILL')
        finish(true)
      }
    })
    child.once('exit', () => finish(false))
  })
}

/** A home with a dead object X (24 MiB) and a live one Y (20 MiB) in one pack: X's erase makes it worth compacting. */
function objects(dir: string): {x: Buffer; y: Buffer; samples: Buffer[]} {
  const x = randomBytes(24 * MiB)
  const y = randomBytes(20 * MiB)
  writeFileSync(join(dir, 'x.bin'), x)
  writeFileSync(join(dir, 'y.bin'), y)
  // One slice from the middle of every 1 MiB leaf of X.
  const samples = Array.from({length: 24}, (_, i) => x.subarray(i * MiB + MiB / 2, i * MiB + MiB / 2 + 48))
  return {x, y, samples}
}

describe('an erase killed during compaction', {timeout: 240_000}, () => {
  const cleanups: Array<() => void> = []
  const cluster = new Cluster()
  after(async () => {
    await cluster.stop()
    for (const c of cleanups) c()
  })

  it('is finished by the next store open (no node): the erased bytes leave the disk', async () => {
    let trials = 0
    for (;;) {
      trials++
      const {home, cleanup} = tmpHome('polar-resume-')
      cleanups.push(cleanup)
      const {y, samples} = objects(home)
      const px = await runPolar(['push', join(home, 'x.bin'), '--json'], {home})
      assert.equal(px.code, 0, px.stderr)
      const py = await runPolar(['push', join(home, 'y.bin'), '--json'], {home})
      assert.equal(py.code, 0, py.stderr)
      assert.equal(onDisk(home, samples), samples.length)
      const before = packs(home)
      const child = spawn(process.execPath, [CLI, 'erase', json(px).cid, '--json'], {env: {...process.env, POLAR_HOME: home, POLAR_NODE: '', NO_COLOR: '1'}, stdio: 'ignore'})
      const killed = await killOnNewPack(home, before, child)
      // A kill that came after the compaction had already dropped X's bytes proves nothing: try again.
      if (!killed || onDisk(home, samples) === 0) {
        assert.ok(trials < 5, `in ${trials} tries the kill never landed during the compaction`)
        continue
      }
      // Any command that opens the store finishes the owed compaction first.
      const out = join(home, 'y.out')
      const pull = await runPolar(['pull', json(py).cid, '-o', out, '--json'], {home})
      assert.equal(pull.code, 0, pull.stderr)
      assert.equal(sha(readFileSync(out)), sha(y), 'the live object is whole')
      assert.equal(onDisk(home, samples), 0, "X's bytes are gone from every pack file")
      const again = await runPolar(['erase', json(px).cid, '--json'], {home})
      assert.equal(again.code, 3, 'X stays erased')
      process.stderr.write(`resume (embedded): the kill landed part way on try ${trials}\n`)
      return
    }
  })

  it('is finished by the next node start: the erased bytes leave the disk', async () => {
    let trials = 0
    for (;;) {
      trials++
      const home = cluster.home('polar-resume-node-')
      const {y, samples} = objects(home)
      let node = await cluster.start(home)
      const px = await node.polar(['push', join(home, 'x.bin'), '--replicas', '1', '--json'])
      assert.equal(px.code, 0, px.stderr)
      const py = await node.polar(['push', join(home, 'y.bin'), '--replicas', '1', '--json'])
      assert.equal(py.code, 0, py.stderr)
      const before = packs(home)
      const killing = killOnNewPack(home, before, node.child)
      // The node compacts in the background: the kill may come before or after it answers.
      const erase = await node.polar(['erase', json(px).cid, '--json'])
      const killed = await killing
      await node.kill()
      if (!killed || onDisk(home, samples) === 0) {
        assert.ok(trials < 5, `in ${trials} tries the kill never landed during the compaction (erase exit ${erase.code}: ${erase.stderr})`)
        continue
      }
      // Restarted: it compacts at start, in the background, with no erase to prompt it.
      node = await cluster.start(home)
      const deadline = Date.now() + 30_000
      while (onDisk(home, samples) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200))
      assert.equal(onDisk(home, samples), 0, `X's bytes are gone from every pack file after the restart\n${node.stderr()}`)
      const pull = await node.polar(['pull', json(py).cid])
      assert.equal(pull.code, 0, pull.stderr)
      assert.equal(sha(pull.stdout), sha(y), 'the live object is whole')
      assert.equal((await node.polar(['pull', json(px).cid])).code, 3, 'X stays erased')
      process.stderr.write(`resume (node): the kill landed part way on try ${trials}\n`)
      return
    }
  })
})
