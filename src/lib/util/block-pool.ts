/**
 * Reused, page-aligned, shared memory for blocks fetched in bulk.
 *
 * A pull of 256 MiB used to receive every block into freshly allocated memory
 * (a page fault per 4 KiB, and on a VM a host fault too), then copy it twice
 * more into the staging memory of the pack and of the output file. Blocks in
 * a pool slot instead are received into memory that was used a moment ago,
 * are hashed as they arrive (net/peer/bulk.ts; the memory is also a
 * SharedArrayBuffer, which the hash workers could read in place), and are
 * written from where they are with O_DIRECT (they are page-aligned; see
 * StagedWriter.append).
 *
 * A slot is in use while anyone holds it. Whoever allocates a block holds it
 * once; `hold(bytes)` adds a holder (a write in flight) and returns its
 * release; `releaseBlock(bytes)` drops the allocator's hold. A slot goes back
 * to the pool only when every holder has let go, so a holder that never
 * releases costs the pool a slot, never a block's bytes: when no slot is free,
 * `alloc` falls back to ordinary shared memory.
 */
import {sharedAlloc} from '../content/hash-pool.js'

/** One slot: the largest block that is pooled (a full UnixFS leaf). */
export const POOL_SLOT_BYTES = 1024 * 1024

interface Lease {
  pool: BlockPool
  slot: number
  refs: number
  /** The allocator's own hold was dropped (releaseBlock is idempotent). */
  dropped: boolean
}

const leases = new WeakMap<Uint8Array, Lease>()

export class BlockPool {
  private readonly mem: Buffer
  private readonly free: number[]
  /** Slots handed out and not yet back. */
  out = 0
  /** Allocations that found no free slot (or were too big) and fell back to fresh memory. */
  fallbacks = 0

  constructor(readonly slots = 64) {
    const wasm = (globalThis as any).WebAssembly
    const pages = (slots * POOL_SLOT_BYTES) / 65536
    // Shared WebAssembly memory: page-aligned (O_DIRECT) and a SharedArrayBuffer (the hash workers read it in place).
    this.mem = Buffer.from(new wasm.Memory({initial: pages, maximum: pages, shared: true}).buffer as SharedArrayBuffer)
    this.free = Array.from({length: slots}, (_, i) => slots - 1 - i)
  }

  /** Memory for a block of `size` bytes: a pool slot when one is free and it fits, else fresh shared memory. */
  alloc(size: number): Buffer {
    if (size > POOL_SLOT_BYTES || this.free.length === 0) {
      this.fallbacks++
      return sharedAlloc(size)
    }
    const slot = this.free.pop()!
    this.out++
    const view = this.mem.subarray(slot * POOL_SLOT_BYTES, slot * POOL_SLOT_BYTES + size)
    leases.set(view, {pool: this, slot, refs: 1, dropped: false})
    return view
  }

  /** @internal */
  giveBack(slot: number): void {
    this.free.push(slot)
    this.out--
  }
}

function unref(lease: Lease): void {
  if (--lease.refs === 0) lease.pool.giveBack(lease.slot)
}

/** True when `bytes` is a pool slot's block (page-aligned memory). */
export function isPooled(bytes: Uint8Array): boolean {
  return leases.has(bytes)
}

/**
 * Adds a holder of a pooled block; returns the release to call (once) when
 * done with its bytes, or undefined for memory that is not pooled.
 */
export function hold(bytes: Uint8Array): (() => void) | undefined {
  const lease = leases.get(bytes)
  // A block whose slot already went back is not a pooled block any more: holding it would hand the slot out twice.
  if (!lease || lease.refs === 0) return undefined
  lease.refs++
  let done = false
  return () => {
    if (done) return
    done = true
    unref(lease)
  }
}

/** Drops the allocator's hold of a pooled block (no-op for other memory, and after the first call). */
export function releaseBlock(bytes: Uint8Array): void {
  const lease = leases.get(bytes)
  if (!lease || lease.dropped) return
  lease.dropped = true
  unref(lease)
}
