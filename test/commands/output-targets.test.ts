// `polar pull -o` onto what is not a regular file (issue 19): `pull CID -o
// /dev/null`, run as root, replaced the device with a regular file; a FIFO was
// replaced too (its reader hung) and a symlink became a file. A device or
// FIFO is written straight into and never replaced; a symlink to a file keeps
// the link and replaces the file behind it; a dangling symlink is refused.
// The same in embedded mode, through a running node (the fast path and the
// oclif path), and for the node's own `?out=` (the node writes the file).
import assert from 'node:assert/strict'
import {execFileSync, spawn} from 'node:child_process'
import {createHash, randomBytes} from 'node:crypto'
import {existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {json, tmpHome, type RunResult} from '../helpers.js'
import {Cluster, localApi, runPolar, type NodeProcess} from '../node/cluster.js'

const CONTENT = randomBytes(3 * 1024 * 1024 + 17) // four leaves: a bafybei… DAG root
const SHA = createHash('sha256').update(CONTENT).digest('hex')

/** Whether this process may make device nodes (root, outside a user namespace that forbids it). */
const canMknod = (() => {
  const {home, cleanup} = tmpHome('polar-mknod-')
  try {
    execFileSync('mknod', [join(home, 'probe'), 'c', '1', '3'], {stdio: 'ignore'})
    return true
  } catch {
    return false
  } finally {
    cleanup()
  }
})()
const NO_MKNOD = canMknod ? false : 'skipped: mknod is not permitted here (the tests need root to make a character device)'

/** Reads a FIFO with `cat`, started after `delayMs` (so the writer waits for it); the sha2-256 of what it read, or a time-out. */
function readFifo(path: string, delayMs: number, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    setTimeout(() => {
      const cat = spawn('cat', [path], {stdio: ['ignore', 'pipe', 'inherit']})
      const h = createHash('sha256')
      cat.stdout.on('data', (d) => h.update(d))
      const timer = setTimeout(() => { cat.kill('SIGKILL'); reject(new Error(`no writer opened the FIFO ${path} within ${timeoutMs} ms`)) }, timeoutMs)
      cat.on('close', () => { clearTimeout(timer); resolve(h.digest('hex')) })
    }, delayMs)
  })
}

function ok(r: RunResult, what: string): any {
  assert.equal(r.code, 0, `${what}: ${r.stdout}${r.stderr}`)
  return json(r)
}

/** The same checks against whichever way `pull` runs (`dir()` gives a fresh directory). */
function targetTests(ctx: {pull: (args: string[]) => Promise<RunResult>; dir: () => string; cid: () => string}): void {
  it('-o onto a character device writes into it and leaves the device in place', {skip: NO_MKNOD}, async () => {
    const d = ctx.dir()
    const dev = join(d, 'null')
    execFileSync('mknod', [dev, 'c', '1', '3'])
    const before = lstatSync(dev)
    const r = ok(await ctx.pull([ctx.cid(), '-o', dev, '--json']), 'pull -o device')
    assert.equal(r.size, CONTENT.length)
    const st = lstatSync(dev)
    assert.ok(st.isCharacterDevice(), 'still a character device, not a regular file')
    assert.equal(st.rdev, before.rdev)
    assert.equal(st.ino, before.ino, 'the same inode: not replaced')
    assert.deepEqual(readdirSync(d), ['null'], 'no temp file left beside it')
  })

  it('-o onto a FIFO writes into it, waiting for a reader, and the FIFO stays', async () => {
    const d = ctx.dir()
    const fifo = join(d, 'fifo')
    execFileSync('mkfifo', [fifo])
    const read = readFifo(fifo, 500) // the reader comes after the pull has started
    const r = ok(await ctx.pull([ctx.cid(), '-o', fifo, '--json']), 'pull -o fifo')
    assert.equal(r.size, CONTENT.length)
    assert.equal(await read, SHA, 'the reader got the object')
    assert.ok(lstatSync(fifo).isFIFO(), 'still a FIFO')
    assert.deepEqual(readdirSync(d), ['fifo'])
  })

  it('-o onto a symlink to a file replaces the file behind it and keeps the link', async () => {
    const d = ctx.dir()
    const file = join(d, 'real.bin')
    const link = join(d, 'link.bin')
    writeFileSync(file, 'old content\n')
    symlinkSync('real.bin', link)
    ok(await ctx.pull([ctx.cid(), '-o', link, '--json']), 'pull -o symlink')
    assert.ok(lstatSync(link).isSymbolicLink(), 'the link is still a link')
    assert.equal(readlinkSync(link), 'real.bin')
    assert.equal(createHash('sha256').update(readFileSync(file)).digest('hex'), SHA, 'the file it points to holds the object')
    assert.deepEqual(readdirSync(d).sort(), ['link.bin', 'real.bin'])
  })

  it('-o onto a dangling symlink is refused: exit 2, nothing created', async () => {
    const d = ctx.dir()
    const link = join(d, 'dangling')
    symlinkSync('nowhere.bin', link)
    const r = await ctx.pull([ctx.cid(), '-o', link, '--json'])
    assert.equal(r.code, 2, `${r.stdout}${r.stderr}`)
    assert.equal(json(r).error.code, 'BAD_INPUT')
    assert.match(json(r).error.message, /dangling/)
    assert.ok(lstatSync(link).isSymbolicLink())
    assert.equal(existsSync(join(d, 'nowhere.bin')), false)
  })
}

describe('pull -o onto devices, FIFOs and symlinks', {timeout: 180_000}, () => {
  const cluster = new Cluster()
  let scratch: string
  let n = 0
  let dir = ''
  const fresh = () => {
    dir = join(scratch, `t${n++}`)
    mkdirSync(dir)
    return dir
  }

  before(() => {
    scratch = tmpHome('polar-out-').home
  })
  after(async () => {
    await cluster.stop()
    rmSync(scratch, {recursive: true, force: true})
  })

  describe('embedded store (no node)', () => {
    const home = () => join(scratch, 'embedded')
    let cid = ''
    before(async () => {
      mkdirSync(home())
      const r = await runPolar(['push', '-', '-q'], {home: home(), input: CONTENT})
      assert.equal(r.code, 0, r.stderr)
      cid = r.stdout.toString().trim()
    })
    targetTests({pull: (args) => runPolar(['pull', ...args], {home: home()}), dir: fresh, cid: () => cid})
  })

  describe('through a running node (fast path: the node writes files, the client devices and FIFOs)', () => {
    let a: NodeProcess
    let cid = ''
    before(async () => {
      a = await cluster.start()
      const r = await a.polar(['push', '-', '-q'], {input: CONTENT})
      assert.equal(r.code, 0, r.stderr)
      cid = r.stdout.toString().trim()
    })
    targetTests({pull: (args) => a.polar(['pull', ...args]), dir: fresh, cid: () => cid})

    describe('the same through oclif (--node SOCKET)', () => {
      targetTests({pull: (args) => a.polar(['pull', ...args, '--node', a.socket]), dir: fresh, cid: () => cid})
    })

    it("the node's own ?out= writes into a device and a FIFO and never replaces them", async () => {
      const d = fresh()
      const fifo = join(d, 'fifo')
      execFileSync('mkfifo', [fifo])
      const read = readFifo(fifo, 300)
      const viaFifo = await localApi(a.socket, 'GET', `/api/v1/pull/${cid}?out=${encodeURIComponent(fifo)}`)
      assert.equal(viaFifo.status, 200, JSON.stringify(viaFifo.body))
      assert.equal(await read, SHA)
      assert.ok(lstatSync(fifo).isFIFO())
      if (canMknod) {
        const dev = join(d, 'null')
        execFileSync('mknod', [dev, 'c', '1', '3'])
        const viaDev = await localApi(a.socket, 'GET', `/api/v1/pull/${cid}?out=${encodeURIComponent(dev)}`)
        assert.equal(viaDev.status, 200, JSON.stringify(viaDev.body))
        assert.equal(viaDev.body.size, CONTENT.length)
        assert.ok(lstatSync(dev).isCharacterDevice(), 'the node left the device a device')
      }
      assert.deepEqual(readdirSync(d).sort(), canMknod ? ['fifo', 'null'] : ['fifo'])
    })
  })
})
