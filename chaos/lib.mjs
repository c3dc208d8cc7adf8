// Helpers for the fault suite: a private copy of the build, real `polar serve`
// processes, CLI runs, and checks that read a home's index and pack files.
import {spawn, spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {closeSync, copyFileSync, cpSync, existsSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, statSync, symlinkSync, writeSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {setTimeout as delay} from 'node:timers/promises'
import Database from 'better-sqlite3'
import * as dagPb from '@ipld/dag-pb'
import {CID} from 'multiformats/cid'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
export const sha = (b) => createHash('sha256').update(b).digest('hex')
export const MiB = 1024 * 1024

// ---- cleanup registry: every process and temp dir the suite makes -------------
const children = new Set()
const dirs = new Set()
const mounts = new Set()
export function cleanupAll() {
  for (const c of children) {
    try { c.kill('SIGKILL') } catch {}
  }
  children.clear()
  for (const m of mounts) spawnSync('umount', ['-l', m])
  mounts.clear()
  for (const d of dirs) {
    try { rmSync(d, {recursive: true, force: true}) } catch {}
  }
  dirs.clear()
}
process.once('exit', cleanupAll)
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => { cleanupAll(); process.exit(130) })

export function tempDir(prefix = 'polar-chaos-') {
  const d = mkdtempSync(join(tmpdir(), prefix))
  dirs.add(d)
  return d
}
export function removeDir(d) {
  rmSync(d, {recursive: true, force: true})
  dirs.delete(d)
}

/** Mounts a tmpfs of `size` on a fresh dir; returns the dir, or throws with mount's message. */
export function mountTmpfs(size) {
  const d = tempDir('polar-chaos-tmpfs-')
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', d], {encoding: 'utf8'})
  if (r.status !== 0) throw new Error(`mount -t tmpfs failed: ${(r.stderr || r.error?.message || '').trim()}`)
  mounts.add(d)
  return d
}
export function unmount(d) {
  const r = spawnSync('umount', [d], {encoding: 'utf8'})
  if (r.status !== 0) spawnSync('umount', ['-l', d])
  mounts.delete(d)
}

// ---- a private copy of the build (others may rebuild dist meanwhile) ---------
export function snapshotBuild() {
  const index = join(ROOT, 'dist', 'index.js')
  const manifest = join(ROOT, 'oclif.manifest.json')
  const mtime = (p) => (existsSync(p) ? statSync(p).mtimeMs : -1)
  const deadline = Date.now() + 120_000
  for (;;) {
    const built = mtime(index)
    if (built > 0 && mtime(manifest) >= built) {
      const dir = tempDir('polar-chaos-cli-')
      try {
        cpSync(join(ROOT, 'bin'), join(dir, 'bin'), {recursive: true})
        cpSync(join(ROOT, 'dist'), join(dir, 'dist'), {recursive: true})
        copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'))
        copyFileSync(manifest, join(dir, 'oclif.manifest.json'))
        symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir')
        if (mtime(index) === built && mtime(manifest) >= built) return join(dir, 'bin', 'run.js')
      } catch {}
      removeDir(dir)
    }
    if (Date.now() > deadline) throw new Error(`no complete build in ${ROOT}/dist: run \`npm run build\` first`)
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250)
  }
}

let CLI
export function setCli(path) { CLI = path }

/** Runs the CLI as a whole process on `home`. */
export function runPolar(args, {home, timeoutMs = 120_000, env = {}, onSpawn} = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: {...process.env, POLAR_HOME: home, NO_COLOR: '1', POLAR_NODE: '', ...env},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    children.add(child)
    onSpawn?.(child)
    const out = []
    let err = ''
    child.stdout.on('data', (d) => out.push(d))
    child.stderr.on('data', (d) => (err += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      children.delete(child)
      resolve({code, signal, stdout: Buffer.concat(out), stderr: err})
    })
  })
}
export function json(r) {
  try {
    return JSON.parse(r.stdout.toString('utf8'))
  } catch {
    throw new Error(`not JSON (exit ${r.code}): ${r.stdout}${r.stderr}`)
  }
}

// ---- nodes ------------------------------------------------------------------
export class Node {
  constructor(home) {
    this.home = home
    this.child = undefined
    this.url = undefined
    this.did = undefined
    this.log = ''
    this.exited = Promise.resolve()
  }
  get running() { return !!this.child }
  get port() { return this.url ? new URL(this.url).port : '0' }

  /** Starts serve; on the old port when it ran before (a restart keeps its URL). */
  async start({samePort = true} = {}) {
    // With `announce` (a proxy's URL in front of it) the node listens on `listenPort`.
    const listen = `127.0.0.1:${this.announce ? this.listenPort : samePort && this.url ? this.port : 0}`
    const extra = this.announce ? ['--announce', this.announce] : []
    const child = spawn(process.execPath, [CLI, 'serve', '--listen', listen, '--json', '--repair-interval', '1', '--ping-interval', '1', ...extra], {
      env: {...process.env, POLAR_HOME: this.home, NO_COLOR: '1', POLAR_NODE: ''},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    children.add(child)
    this.child = child
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
      children.delete(child)
      if (this.child === child) this.child = undefined
      resolve({code, signal})
    }))
    child.stderr.on('data', (d) => {
      this.log += d
      if (this.log.length > 200_000) this.log = this.log.slice(-100_000)
    })
    const ready = await new Promise((resolve, reject) => {
      let out = ''
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`serve on ${this.home} not ready in 30 s:\n${this.log.slice(-2000)}`)) }, 30_000)
      child.stdout.on('data', (d) => {
        out += d
        const nl = out.indexOf('\n')
        if (nl < 0) return
        clearTimeout(timer)
        try { resolve(JSON.parse(out.slice(0, nl))) } catch (e) { reject(e) }
        child.stdout.removeAllListeners('data')
        child.stdout.resume()
      })
      this.exited.then((e) => { clearTimeout(timer); reject(new Error(`serve on ${this.home} exited ${e.code ?? e.signal} before ready:\n${this.log.slice(-2000)}`)) })
    })
    if (this.url && ready.url !== this.url) throw new Error(`restarted node came back on ${ready.url}, not ${this.url}`)
    this.url = ready.url
    this.did = ready.did
    return this
  }
  async kill() {
    if (!this.child) return
    this.child.kill('SIGKILL')
    await this.exited
  }
  async stop(graceMs = 8_000) {
    if (!this.child) return
    const c = this.child
    c.kill('SIGTERM')
    const t = setTimeout(() => c.kill('SIGKILL'), graceMs)
    await this.exited
    clearTimeout(t)
  }
  polar(args, opts = {}) { return runPolar(args, {home: this.home, ...opts}) }
}

export async function join2(a, b) {
  const r = await a.polar(['peers', 'add', b.url, '--json'])
  if (r.code !== 0) throw new Error(`peers add ${b.url} on ${a.url}: exit ${r.code} ${r.stderr}`)
}
export async function mesh(nodes) {
  const pairs = []
  for (let i = 0; i < nodes.length; i++) for (let j = i + 1; j < nodes.length; j++) pairs.push([nodes[i], nodes[j]])
  await Promise.all(Array.from({length: 3}, async () => {
    for (let p = pairs.shift(); p; p = pairs.shift()) await join2(p[0], p[1])
  }))
}

export async function waitFor(what, check, {timeoutMs = 60_000, intervalMs = 250} = {}) {
  const deadline = Date.now() + timeoutMs
  let last
  for (;;) {
    try {
      const v = await check()
      if (v) return v
      last = v
    } catch (e) { last = e }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`)
    await delay(intervalMs)
  }
}

// ---- the public API -----------------------------------------------------------
export async function hasBlocks(url, cids) {
  const have = []
  for (let i = 0; i < cids.length; i += 256) {
    const res = await fetch(`${url}/v1/blocks/has`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({cids: cids.slice(i, i + 256)}), signal: AbortSignal.timeout(5_000)})
    if (res.status !== 200) throw new Error(`has on ${url}: HTTP ${res.status}`)
    have.push(...(await res.json()).have)
  }
  return have
}
/** Holds every block of the object (false when the node is down). */
export async function holdsAll(url, blocks) {
  try {
    return (await hasBlocks(url, blocks)).every(Boolean)
  } catch {
    return false
  }
}
async function getBlock(url, cid) {
  const res = await fetch(`${url}/v1/blocks/${cid}`, {signal: AbortSignal.timeout(10_000)})
  if (res.status !== 200) throw new Error(`GET block ${cid} from ${url}: HTTP ${res.status}`)
  const bytes = new Uint8Array(await res.arrayBuffer())
  if (!verifies(CID.parse(cid), bytes)) throw new Error(`block ${cid} from ${url} does not verify`)
  return bytes
}
/** Every block CID of an object (the dag-pb tree walked from `url`). */
export async function blockList(url, root) {
  const out = []
  const queue = [root]
  while (queue.length) {
    const c = queue.shift()
    out.push(c)
    const cid = CID.parse(c)
    if (cid.code === dagPb.code) {
      const node = dagPb.decode(await getBlock(url, c))
      for (const l of node.Links) queue.push(l.Hash.toString())
    }
  }
  return out
}

// ---- the store on disk ----------------------------------------------------------
export function verifies(cid, bytes) {
  if (cid.multihash.code !== 0x12) return false
  return Buffer.compare(createHash('sha256').update(bytes).digest(), Buffer.from(cid.multihash.digest)) === 0
}
function packPath(home, pack) {
  return join(home, 'blocks', `pack-${String(pack).padStart(6, '0')}`)
}
function openDb(home) {
  return new Database(join(home, 'polar.db'), {readonly: true, fileMustExist: true, timeout: 5_000})
}
/** Bytes in the home's pack files (grows as blocks arrive, before they are indexed). */
export function packBytes(home) {
  let n = 0
  try {
    for (const f of readdirSync(join(home, 'blocks'))) if (f.startsWith('pack-')) n += statSync(join(home, 'blocks', f)).size
  } catch {}
  return n
}
export function blockCount(home) {
  if (!existsSync(join(home, 'polar.db'))) return 0
  const db = openDb(home)
  try {
    return db.prepare('SELECT count(*) AS n FROM blocks').get().n
  } catch {
    return 0
  } finally {
    db.close()
  }
}
/** Reads and hashes every indexed block of a home: {blocks, bad: [cid...]}. */
export function verifyHome(home) {
  if (!existsSync(join(home, 'polar.db'))) return {blocks: 0, bad: []}
  const db = openDb(home)
  const bad = []
  let blocks = 0
  const fds = new Map()
  try {
    for (const row of db.prepare('SELECT cid, pack, offset, length FROM blocks').iterate()) {
      blocks++
      const cid = CID.decode(new Uint8Array(row.cid))
      let fd = fds.get(row.pack)
      if (fd === undefined) {
        try { fd = openSync(packPath(home, row.pack), 'r') } catch { fd = -1 }
        fds.set(row.pack, fd)
      }
      const buf = Buffer.alloc(row.length)
      const n = fd < 0 ? 0 : readSync(fd, buf, 0, row.length, row.offset)
      if (n !== row.length || !verifies(cid, buf)) bad.push(cid.toString())
    }
  } finally {
    for (const fd of fds.values()) if (fd >= 0) closeSync(fd)
    db.close()
  }
  return {blocks, bad}
}
/** Where a block sits: {pack, offset, length} or undefined. */
export function locate(home, cid) {
  const db = openDb(home)
  try {
    return db.prepare('SELECT pack, offset, length FROM blocks WHERE cid = ?').get(Buffer.from(CID.parse(cid).bytes))
  } finally {
    db.close()
  }
}
/** XORs 4 bytes in the middle of a stored block, in place. */
export function flipBytes(home, cid) {
  const db = openDb(home)
  let row
  try {
    row = db.prepare('SELECT pack, offset, length FROM blocks WHERE cid = ?').get(Buffer.from(CID.parse(cid).bytes))
  } finally {
    db.close()
  }
  if (!row) throw new Error(`block ${cid} is not indexed in ${home}`)
  const fd = openSync(packPath(home, row.pack), 'r+')
  try {
    // Never past the block's own bytes (a 1-byte block gets 1 byte flipped).
    const n = Math.min(4, row.length)
    const at = row.offset + Math.floor((row.length - n) / 2)
    const buf = Buffer.alloc(n)
    readSync(fd, buf, 0, n, at)
    for (let i = 0; i < n; i++) buf[i] ^= 0xa5
    writeSync(fd, buf, 0, n, at)
  } finally {
    closeSync(fd)
  }
}
