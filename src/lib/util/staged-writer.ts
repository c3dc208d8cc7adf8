import {closeSync, constants as fsc, openSync, readSync, write} from 'node:fs'
import {hold} from './block-pool.js'

/** File offsets, lengths and memory of direct writes are multiples of this. */
export const DIRECT_ALIGN = 4096
/** One staging slot: the unit of a write. */
export const SLOT_BYTES = 1024 * 1024
/** Slots per writer: at most this many writes in flight (the memory bound of a writer). */
export const SLOTS = 8

/**
 * Sequential writes to one file (a pack being appended to, a pull's output)
 * through staging memory, and with O_DIRECT where the file system allows it.
 *
 * Why: a write through the page cache copies every byte into freshly
 * allocated cache pages, then writeback copies it again; on a VM each fresh
 * page is also a fault in the host. Measured here, 256 MiB written and
 * fdatasynced took 0.42 s buffered against 0.2 s with O_DIRECT, and the
 * buffered copies cost the pull most of its CPU (docs/benchmarks.md). Direct
 * writes go from our memory to the device; the same few MiB of staging memory
 * is reused for the whole file, so it stays warm.
 *
 * Bytes are copied into page-aligned slots (WebAssembly memory is
 * page-aligned; Buffers are not) and each full slot is written at its aligned
 * offset. `flush()` writes the partial last slot padded to DIRECT_ALIGN: the
 * file may then extend past `position` with padding, which the owner cuts off
 * (ftruncate) or treats as garbage past its committed size; the next write
 * rewrites that last page whole (the same bytes where they were already
 * written, so a torn rewrite cannot damage them).
 *
 * Where O_DIRECT is refused (at open or by EINVAL on a write) the same slots
 * are written through `fd`, the owner's ordinary descriptor.
 */
export class StagedWriter {
  private readonly arena: Arena
  private directFd = -1
  /** Direct writes still go through (an EINVAL turns them off; the fd stays open until close: writes may be in flight on it). */
  private directOk = true
  private free: number[]
  private cur = -1
  /** File offset of the current slot's first byte (aligned when direct). */
  private curStart = 0
  private used = 0
  /** The current slot holds bytes not yet written (else a flush has nothing to do). */
  private dirty = false
  /** Where the next byte is copied to. */
  private pos: number
  /** Where the next append goes: `pos` plus the appends queued behind the one copying. */
  private reserved: number
  private queue: Promise<void> = Promise.resolve()
  /** Writes in flight straight from pooled blocks (bounded like the slots). */
  private inPlace = 0
  /** Bytes written straight from pooled blocks, without a copy. */
  inPlaceBytes = 0
  private readonly inFlight = new Set<Promise<void>>()
  private readonly waiters: Array<() => void> = []
  private failed: unknown
  private closed = false
  /** The partial last page of a flush, to start the next slot with (direct mode). */
  private tail: Buffer | undefined
  /** The last flush's write, which the next slot's write (same page) must follow. */
  private lastPartial: Promise<void> | undefined

  /**
   * `fd` is the owner's descriptor (kept open by the owner; it must be readable
   * when `start` is not aligned: the partial page before it is read back).
   * `start` is where the first appended byte goes.
   */
  constructor(private readonly fd: number, path: string, start: number, options: {direct?: boolean} = {}) {
    this.arena = takeArena()
    this.free = Array.from({length: SLOTS}, (_, i) => SLOTS - 1 - i)
    this.pos = start
    this.reserved = start
    if (options.direct !== false && this.arena.aligned && fsc.O_DIRECT !== undefined) {
      try {
        this.directFd = openSync(path, fsc.O_WRONLY | fsc.O_DIRECT)
      } catch {
        this.directFd = -1
      }
    }
    const head = start % DIRECT_ALIGN
    if (head > 0 && this.direct) {
      // Starting mid-page: the first slot begins at the page, holding what is already there.
      const tail = Buffer.allocUnsafe(head)
      try {
        if (readSync(fd, tail, 0, head, start - head) !== head) throw new Error('short read')
        this.tail = tail
      } catch {
        this.useBuffered()
      }
    }
  }

  /** Where the next appended byte goes (after every append made so far, copied or still queued). */
  get position(): number {
    return this.reserved
  }

  /** True while writes bypass the page cache. */
  get direct(): boolean {
    return this.directFd >= 0 && this.directOk
  }

  /**
   * Copies `bytes` in after everything appended before (appends may overlap:
   * they are queued); a full slot is written in the background. Resolves with
   * the file offset of `bytes` once they are copied: the caller may reuse
   * `bytes` then. Waits (back-pressure) while every slot is being written.
   */
  append(bytes: Uint8Array): Promise<number> {
    if (this.closed) return Promise.reject(new Error('this staged writer is closed'))
    if (this.failed) return Promise.reject(this.failed)
    const at = this.reserved
    this.reserved += bytes.length
    const run = this.queue.then(() => this.copyIn(bytes))
    this.queue = run.catch(() => {})
    return run.then(() => at)
  }

  private async copyIn(bytes: Uint8Array): Promise<void> {
    if (this.direct && bytes.length > 0 && bytes.length % DIRECT_ALIGN === 0 && this.pos % DIRECT_ALIGN === 0 && !this.tail) {
      // A pooled block (page-aligned memory) at an aligned offset: written from where it is, no copy.
      const release = hold(bytes)
      if (release) return this.writeInPlace(bytes, release)
    }
    let off = 0
    while (off < bytes.length) {
      if (this.failed) throw this.failed
      if (this.cur < 0) {
        while (this.free.length === 0) {
          await new Promise<void>((resolve) => this.waiters.push(resolve))
          if (this.failed) throw this.failed
        }
        this.cur = this.free.pop()!
        this.curStart = this.pos
        this.used = 0
        if (this.tail) {
          // After a flush that ended mid-page: this slot starts at that page.
          this.slot(this.cur).set(this.tail)
          this.curStart = this.pos - this.tail.length
          this.used = this.tail.length
          this.tail = undefined
        }
      }
      const n = Math.min(SLOT_BYTES - this.used, bytes.length - off)
      this.slot(this.cur).set(bytes.subarray(off, off + n), this.used)
      this.used += n
      this.pos += n
      off += n
      this.dirty = true
      if (this.used === SLOT_BYTES) this.seal(SLOT_BYTES)
    }
  }

  /**
   * Writes everything appended so far (the last slot padded when direct) and
   * waits for it: every byte before `position` is then in the file. Appends
   * may go on meanwhile; their writes are not waited for.
   */
  async flush(): Promise<void> {
    await this.queue
    if (this.failed) throw this.failed
    if (this.cur >= 0 && this.dirty) {
      const end = this.curStart + this.used
      const keep = this.direct ? end % DIRECT_ALIGN : 0
      // The last partial page is written again, whole, by the next slot.
      if (keep > 0) this.tail = Buffer.from(this.slot(this.cur).subarray(this.used - keep, this.used))
      this.seal(this.direct ? roundUp(this.used, DIRECT_ALIGN) : this.used)
    }
    await Promise.allSettled([...this.inFlight])
    if (this.failed) throw this.failed
  }

  private async writeInPlace(bytes: Uint8Array, release: () => void): Promise<void> {
    // What the current slot holds goes first (it ends at `pos`, aligned, so it needs no padding).
    if (this.cur >= 0) {
      if (this.dirty) this.seal(this.used)
      else {
        this.free.push(this.cur)
        this.cur = -1
      }
    }
    const at = this.pos
    this.pos += bytes.length
    this.inPlaceBytes += bytes.length
    while (this.inPlace >= SLOTS) {
      await new Promise<void>((resolve) => this.waiters.push(resolve))
      if (this.failed) {
        release()
        throw this.failed
      }
    }
    this.inPlace++
    const p = this.writeOut(bytes, at)
    this.inFlight.add(p)
    p.catch((err) => { this.failed ??= err }).finally(() => {
      release()
      this.inFlight.delete(p)
      this.inPlace--
      this.waiters.shift()?.()
      if (this.failed) for (const w of this.waiters.splice(0)) w()
    })
  }

  /** Starts the write of the current slot (its first `len` bytes) and lets the next append take a new one. */
  private seal(len: number): void {
    const idx = this.cur
    // Padding past the data is zeros, not what the (shared, reused) slot held before.
    if (len > this.used) this.slot(idx).fill(0, this.used, len)
    const buf = this.slot(idx).subarray(0, len)
    const at = this.curStart
    this.cur = -1
    this.used = 0
    this.dirty = false
    // A slot that begins on the page an earlier flush padded must land after that write.
    const before = this.lastPartial
    const p = before ? before.then(() => this.writeOut(buf, at)) : this.writeOut(buf, at)
    this.lastPartial = this.tail ? p.catch(() => {}) : undefined
    this.track(p, idx)
  }

  /** Waits for writes in flight (without writing the partial slot), closes the direct descriptor and hands the memory back. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.queue
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight])
    if (this.directFd >= 0) try { closeSync(this.directFd) } catch {}
    this.directFd = -1
    giveArena(this.arena)
  }

  private slot(i: number): Buffer {
    return this.arena.mem.subarray(i * SLOT_BYTES, (i + 1) * SLOT_BYTES)
  }

  private track(p: Promise<void>, idx: number): void {
    this.inFlight.add(p)
    p.catch((err) => { this.failed ??= err }).finally(() => {
      this.inFlight.delete(p)
      this.free.push(idx)
      this.waiters.shift()?.()
      // A failure wakes everyone: they throw it.
      if (this.failed) for (const w of this.waiters.splice(0)) w()
    })
  }

  private useBuffered(): void {
    this.directOk = false
  }

  private async writeOut(buf: Uint8Array, position: number): Promise<void> {
    if (this.direct) {
      try {
        return await writeFully(this.directFd, buf, position)
      } catch (err) {
        // The file system took the open but not the write (alignment rules of its own): go buffered.
        if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err
        this.useBuffered()
      }
    }
    return writeFully(this.fd, buf, position)
  }
}

export function writeFully(fd: number, buf: Uint8Array, pos: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let off = 0
    const step = (err: Error | null, n?: number) => {
      if (err) return reject(err)
      off += n!
      if (off >= buf.length) return resolve()
      write(fd, buf, off, buf.length - off, pos + off, step)
    }
    write(fd, buf, 0, buf.length, pos, step)
  })
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to
}

/**
 * Staging memory, shared by the writers of a process and reused: warm pages
 * cost nothing to write again, fresh ones cost a fault each. Arenas are made
 * on first use (an idle node has none), at most KEEP_ARENAS are kept, and
 * none once SPARE_MS have passed without a writer.
 */
interface Arena {
  mem: Buffer
  aligned: boolean
}

const KEEP_ARENAS = 2
const spare: Arena[] = []

function takeArena(): Arena {
  const a = spare.pop()
  if (a) return a
  const bytes = SLOTS * SLOT_BYTES
  try {
    const pages = bytes / 65536
    // WebAssembly memory is page-aligned (Buffers are not): what O_DIRECT needs.
    const wasm = (globalThis as any).WebAssembly
    return {mem: Buffer.from(new wasm.Memory({initial: pages, maximum: pages}).buffer as ArrayBuffer), aligned: true}
  } catch {
    return {mem: Buffer.allocUnsafeSlow(bytes), aligned: false}
  }
}

/** Spare arenas are let go after this long unused: an idle node keeps no staging memory. */
const SPARE_MS = 30_000
let spareTimer: NodeJS.Timeout | undefined

function giveArena(a: Arena): void {
  if (spare.length < KEEP_ARENAS) spare.push(a)
  clearTimeout(spareTimer)
  spareTimer = setTimeout(() => { spare.length = 0 }, SPARE_MS).unref()
}
