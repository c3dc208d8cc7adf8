// polar gc (issue 19, point 5): what a killed push leaves is reclaimed and reported; a gc killed
// at any moment loses no block an object needs; a gc during a push (embedded, and in a node)
// keeps the push's blocks (pins), and the push completes and pulls back byte-identical.
import assert from 'node:assert/strict'
import {randomBytes, createHash} from 'node:crypto'
import {closeSync, openSync, readdirSync, readSync, statSync, writeFileSync, writeSync} from 'node:fs'
import {CID} from 'multiformats/cid'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {spawn, type ChildProcess} from 'node:child_process'
import {openDatabase} from '../../src/lib/store/db.js'
import {CHECKPOINT_BYTES} from '../../src/lib/store/block-store.js'
import {Cluster, type NodeProcess} from '../node/cluster.js'
import {BIN, json, runPolar, sleep, spawnPolar, tmpHome, type RunResult} from '../helpers.js'

const MiB = 1024 * 1024

function indexedBlocks(home: string): number {
  const db = openDatabase(home, {readonly: true})
  try {
    return db.prepare('SELECT count(*) FROM blocks').pluck().get() as number
  } finally {
    db.close()
  }
}

const packBytes = (home: string) => readdirSync(join(home, 'blocks')).reduce((n, f) => n + statSync(join(home, 'blocks', f)).size, 0)

/**
 * Starts `polar push -` and feeds it more than one checkpoint of random bytes, then waits (not for a
 * time: for the index) until that checkpoint's blocks are indexed. The caller ends or kills it.
 */
async function pushPastACheckpoint(home: string, baseline: number): Promise<{child: ChildProcess; result: Promise<RunResult>; data: Buffer[]; finish: () => Promise<RunResult>}> {
  // spawnPolar ends stdin when given no input: this push keeps its stdin open.
  const child = spawn(process.execPath, [BIN, 'push', '-', '--json', '--name', 'big'], {env: {...process.env, POLAR_HOME: home, NO_COLOR: '1'}, stdio: ['pipe', 'pipe', 'pipe']})
  const out: Buffer[] = []
  let err = ''
  child.stdout!.on('data', (b) => out.push(b))
  child.stderr!.on('data', (b) => (err += b))
  const result = new Promise<RunResult>((resolve) => child.on('close', (code, signal) => resolve({code, signal, stdout: Buffer.concat(out), stderr: err})))
  const run = {child, result}
  const stdin = child.stdin!
  stdin.on('error', () => {})
  const data: Buffer[] = []
  const write = (b: Buffer) => new Promise<void>((resolve, reject) => stdin.write(b, (err) => (err ? reject(err) : resolve())))
  for (let sent = 0; sent < CHECKPOINT_BYTES + 4 * MiB; sent += 2 * MiB) {
    const piece = randomBytes(2 * MiB)
    data.push(piece)
    await write(piece)
  }
  while (indexedBlocks(home) <= baseline + 32) {
    assert.equal(run.child.exitCode, null, 'the push ended before its first checkpoint')
    await sleep(100)
  }
  const finish = async () => {
    const tail = randomBytes(3 * MiB + 17)
    data.push(tail)
    await write(tail)
    stdin.end()
    return run.result
  }
  return {...run, data, finish}
}

async function pullsBack(home: string, cid: string, sha: string): Promise<void> {
  const r = await runPolar(['pull', cid], {home, timeoutMs: 120_000})
  assert.equal(r.code, 0, r.stderr)
  assert.equal(createHash('sha256').update(r.stdout).digest('hex'), sha, `${cid} pulls back different bytes`)
}

const sha = (bufs: Buffer[]) => createHash('sha256').update(Buffer.concat(bufs)).digest('hex')

describe('polar gc', {timeout: 600_000}, () => {
  it('after a killed push: reclaims its blocks, reports the bytes, and keeps every object; a kill mid-gc loses nothing', async () => {
    const {home, cleanup} = tmpHome()
    after(cleanup)
    const keep = randomBytes(3 * MiB + 5)
    writeFileSync(join(home, 'keep'), keep)
    const kept = json(await runPolar(['push', join(home, 'keep'), '--json'], {home}))
    const keepSha = sha([keep])
    const push = await pushPastACheckpoint(home, indexedBlocks(home))
    push.child.kill('SIGKILL')
    await push.result
    const garbageBlocks = indexedBlocks(home) - kept.blocks
    assert.ok(garbageBlocks >= 32, `${garbageBlocks} block(s) of the killed push indexed`)
    const before = packBytes(home)

    // status counts the same unneeded blocks (gc's mark, rolled back) and changes nothing.
    const status = json(await runPolar(['status', '--json'], {home}))
    assert.equal(status.unreferenced.blocks, garbageBlocks)
    assert.ok(status.unreferenced.bytes >= 32 * MiB, `${status.unreferenced.bytes} unneeded bytes reported`)
    assert.equal(indexedBlocks(home), kept.blocks + garbageBlocks)
    assert.equal(packBytes(home), before)

    const dry = await runPolar(['gc', '--dry-run', '--json'], {home})
    assert.equal(dry.code, 0, dry.stderr)
    const d = json(dry)
    assert.equal(d.dryRun, true)
    assert.equal(d.blocks, garbageBlocks)
    assert.ok(d.bytes >= 32 * MiB && d.freed >= d.bytes, JSON.stringify(d))
    assert.equal(packBytes(home), before, 'a dry run changes nothing')
    assert.equal(indexedBlocks(home), kept.blocks + garbageBlocks)

    // Kill gc at spread-out moments (start-up, mark, sweep, compaction copy): no object loses a block.
    for (const ms of [400, 900, 1400, 1900, 2600]) {
      const g = spawnPolar(['gc', '--json'], {home})
      await sleep(ms)
      g.child.kill('SIGKILL')
      await g.result
      await pullsBack(home, kept.cid, keepSha)
    }

    const r = await runPolar(['gc', '--json'], {home})
    assert.equal(r.code, 0, r.stderr)
    const g = json(r)
    assert.equal(indexedBlocks(home), kept.blocks, 'only the kept object\'s blocks are left')
    // Some kill may have finished the sweep already: what is left of the reclaiming is this run's.
    assert.ok(packBytes(home) <= keep.length + 2 * MiB, `${packBytes(home)} bytes of packs left for a ${keep.length}-byte object`)
    assert.ok(before - packBytes(home) >= 32 * MiB)
    if (g.blocks > 0) assert.ok(g.freed >= g.bytes, JSON.stringify(g))
    await pullsBack(home, kept.cid, keepSha)
    const again = json(await runPolar(['gc', '--json'], {home}))
    assert.equal(again.blocks, 0)
    assert.equal(again.freed, 0)
    const plain = await runPolar(['gc'], {home})
    assert.match(plain.stdout.toString(), /^freed 0 B\n$/)
  })

  it('during a push (embedded, another process): keeps the pinned blocks; the push completes and pulls back', async () => {
    const {home, cleanup} = tmpHome()
    after(cleanup)
    const push = await pushPastACheckpoint(home, 0)
    const r = await runPolar(['gc', '--json'], {home})
    assert.equal(r.code, 0, r.stderr)
    const g = json(r)
    assert.equal(g.blocks, 0, JSON.stringify(g))
    assert.ok(g.kept.pinned >= 32, JSON.stringify(g))
    const done = await push.finish()
    assert.equal(done.code, 0, done.stderr)
    await pullsBack(home, json(done).cid, sha(push.data))
  })

  it('deletes nothing when an object\'s DAG is damaged (its leaves would look like garbage): exit 4', async () => {
    const {home, cleanup} = tmpHome()
    after(cleanup)
    writeFileSync(join(home, 'f'), randomBytes(3 * MiB))
    const pushed = json(await runPolar(['push', join(home, 'f'), '--json'], {home}))
    const n = indexedBlocks(home)
    assert.ok(n >= 4)
    // Flip a byte of the dag-pb root in its pack: the leaves are then reachable through nothing that verifies.
    const db = openDatabase(home, {readonly: true})
    const loc = db.prepare('SELECT pack, offset FROM blocks WHERE cid = ?').get(CID.parse(pushed.cid).bytes) as {pack: number; offset: number}
    db.close()
    const path = join(home, 'blocks', `pack-${String(loc.pack).padStart(6, '0')}`)
    const fd = openSync(path, 'r+')
    const b = Buffer.alloc(1)
    readSync(fd, b, 0, 1, loc.offset + 8)
    b[0] ^= 0xff
    writeSync(fd, b, 0, 1, loc.offset + 8)
    closeSync(fd)
    const r = await runPolar(['gc', '--json'], {home})
    assert.equal(r.code, 4, r.stderr)
    assert.ok(json(r).error.message.includes(pushed.cid), json(r).error.message)
    assert.equal(indexedBlocks(home), n, 'no block deleted')
  })

  it('refuses --node URL (exit 2): it works on this home', async () => {
    const {home, cleanup} = tmpHome()
    after(cleanup)
    const r = await runPolar(['gc', '--node', 'http://127.0.0.1:9', '--json'], {home})
    assert.equal(r.code, 2, r.stderr)
    assert.match(json(r).error.message, /this home/)
  })

  describe('with a node running on the home', () => {
    const cluster = new Cluster()
    let node: NodeProcess
    before(async () => { node = await cluster.start() })
    after(() => cluster.stop())

    it('runs in the node, during a push through it, and keeps that push\'s blocks', async () => {
      const push = await pushPastACheckpoint(node.home, indexedBlocks(node.home))
      const r = await runPolar(['gc', '--json'], {home: node.home})
      assert.equal(r.code, 0, r.stderr)
      const g = json(r)
      assert.equal(g.blocks, 0, JSON.stringify(g))
      assert.ok(g.kept.pinned >= 32, JSON.stringify(g))
      const done = await push.finish()
      assert.equal(done.code, 0, done.stderr)
      await pullsBack(node.home, json(done).cid, sha(push.data))
      assert.ok(node.running)
    })
  })
})
