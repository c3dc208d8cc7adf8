import {closeSync, fdatasync, fsync, openSync, renameSync, statSync, unlinkSync, write} from 'node:fs'
import {dirname} from 'node:path'
import {InputError} from '../errors.js'
import {fsyncDir, tempPathFor} from './fs.js'

/** Bytes handed to the thread pool but not yet written before `write` waits. */
const MAX_IN_FLIGHT = 16 * 1024 * 1024
/** A background fdatasync this often keeps the final one (before the rename) short. */
const EARLY_SYNC_BYTES = 16 * 1024 * 1024

const live = new Set<string>()
const SIGNALS = ['SIGINT', 'SIGTERM'] as const

/**
 * While an output is being written, SIGINT/SIGTERM remove its temp file. In a
 * CLI process nothing else listens, so the signal is then re-raised and the
 * process dies as it would have; in a node, `serve` has its own handler for a
 * graceful stop, so the signal is left to it.
 */
function onSignal(sig: NodeJS.Signals): void {
  for (const p of live) try { unlinkSync(p) } catch {}
  live.clear()
  unhook()
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig)
}

function hook(): void {
  if (live.size === 1) for (const s of SIGNALS) process.on(s, onSignal)
}

function unhook(): void {
  if (live.size === 0) for (const s of SIGNALS) process.off(s, onSignal)
}

const writeAt = (fd: number, buf: Uint8Array, pos: number) => new Promise<void>((resolve, reject) => {
  let off = 0
  const step = (err: Error | null, n?: number) => {
    if (err) return reject(err)
    off += n!
    if (off >= buf.length) resolve()
    else write(fd, buf, off, buf.length - off, pos + off, step)
  }
  write(fd, buf, 0, buf.length, pos, step)
})

/**
 * An output file that appears complete or not at all: bytes go to a temp name
 * beside it, and `commit()` fsyncs and renames it into place. A crash leaves at
 * most the temp file (a dot-file), never a half-written target. Writes run on
 * the thread pool with a bounded window, with early background syncs, so the
 * caller keeps fetching and hashing while the disk works.
 */
export class AtomicOutput {
  private fd: number
  readonly tmp: string
  bytes = 0
  private pending: Array<{p: Promise<void>; n: number}> = []
  private pendingBytes = 0
  private sinceSync = 0
  private syncing: Promise<void> | undefined
  private failed: unknown

  constructor(readonly path: string) {
    try {
      if (statSync(path).isDirectory()) throw new InputError(`output ${path} is a directory`)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    this.tmp = tempPathFor(path)
    try {
      this.fd = openSync(this.tmp, 'wx', 0o644)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT' || code === 'EACCES' || code === 'ENOTDIR') throw new InputError(`cannot write to ${dirname(path)}: ${(err as Error).message}`)
      throw err
    }
    live.add(this.tmp)
    hook()
  }

  /** Queues a chunk; resolves when the write window has room again. */
  async write(chunk: Uint8Array): Promise<void> {
    if (this.failed) throw this.failed
    const p = writeAt(this.fd, chunk, this.bytes)
    p.catch((err) => { this.failed ??= err })
    this.pending.push({p, n: chunk.length})
    this.pendingBytes += chunk.length
    this.bytes += chunk.length
    this.sinceSync += chunk.length
    while (this.pendingBytes > MAX_IN_FLIGHT) {
      const w = this.pending.shift()!
      await w.p
      this.pendingBytes -= w.n
    }
    if (this.sinceSync >= EARLY_SYNC_BYTES && !this.syncing) {
      this.sinceSync = 0
      const fd = this.fd
      const issued = this.pending.map((w) => w.p)
      this.syncing = Promise.all(issued).then(() => new Promise<void>((r) => fdatasync(fd, () => r()))).catch(() => {}).finally(() => { this.syncing = undefined })
    }
  }

  private async drain(): Promise<void> {
    await Promise.allSettled(this.pending.map((w) => w.p))
    this.pending = []
    this.pendingBytes = 0
    if (this.syncing) await this.syncing
  }

  async commit(): Promise<void> {
    await this.drain()
    if (this.failed) throw this.failed
    await new Promise<void>((resolve, reject) => fsync(this.fd, (err) => (err ? reject(err) : resolve())))
    closeSync(this.fd)
    renameSync(this.tmp, this.path)
    live.delete(this.tmp)
    unhook()
    fsyncDir(dirname(this.path))
  }

  async discard(): Promise<void> {
    await this.drain()
    try { closeSync(this.fd) } catch {}
    try { unlinkSync(this.tmp) } catch {}
    live.delete(this.tmp)
    unhook()
  }
}
