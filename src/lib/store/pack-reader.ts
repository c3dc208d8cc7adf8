import {closeSync, openSync, read, readSync} from 'node:fs'
import {IntegrityError} from '../errors.js'

/** Where a block lies in a pack: the stored bytes are [offset, offset + length). */
export interface PackLocation {
  pack: number
  offset: number
  length: number
}

/**
 * The read side of the pack files: one cached read descriptor per pack, used
 * by synchronous reads (the CLI, decoding) and by asynchronous ones (the
 * serving node, issue 15 point 1).
 *
 * Why asynchronous reads: packs are written with O_DIRECT (pack-writer.ts),
 * so a block a peer asks for is rarely in the page cache, and a readSync of
 * 1 MiB on the main thread held the event loop for the whole disk read
 * (616 ms of a 1.4 s pull of 256 MiB, issue 15): nobody else was served
 * meanwhile, and the disk saw one read at a time. `read()` goes through
 * libuv's thread pool, so the loop stays free and a caller can keep several
 * reads in flight (block-batch.ts reads a few frames ahead) — the queue depth
 * the kernel's read-ahead would otherwise give.
 *
 * A descriptor is closed (forget, after compaction removed the pack) only
 * once no asynchronous read on it is in flight: closing it under a pending
 * read would let the number be reused by another open file and the read
 * return that file's bytes (the hash check would catch them, but the block
 * would be reported damaged for nothing).
 */
export class PackReader {
  private readonly fds = new Map<number, number>()
  /** Asynchronous reads pending, by descriptor; and descriptors to close when theirs are done. */
  private readonly inFlight = new Map<number, number>()
  private readonly closing = new Set<number>()

  constructor(private readonly path: (pack: number) => string) {}

  /** Reads a located block's stored bytes into `target` at `at`, on this thread. */
  readSync(loc: PackLocation, target: Uint8Array, at: number, what = ''): void {
    const fd = this.fd(loc.pack, what)
    let got = 0
    while (got < loc.length) {
      const n = readSync(fd, target, at + got, loc.length - got, loc.offset + got)
      if (n === 0) throw this.short(loc, what)
      got += n
    }
  }

  /** The same read through the thread pool: the event loop stays free while the disk works. */
  async read(loc: PackLocation, target: Uint8Array, at: number, what = ''): Promise<void> {
    const fd = this.fd(loc.pack, what)
    this.inFlight.set(fd, (this.inFlight.get(fd) ?? 0) + 1)
    try {
      let got = 0
      while (got < loc.length) {
        const n = await new Promise<number>((resolve, reject) => {
          read(fd, target, at + got, loc.length - got, loc.offset + got, (err, bytes) => (err ? reject(err) : resolve(bytes)))
        })
        if (n === 0) throw this.short(loc, what)
        got += n
      }
    } finally {
      const left = (this.inFlight.get(fd) ?? 1) - 1
      if (left > 0) this.inFlight.set(fd, left)
      else {
        this.inFlight.delete(fd)
        if (this.closing.delete(fd)) closeSync(fd)
      }
    }
  }

  /** Drops the cached descriptor of a pack (compaction removed it); closed once its reads are done. */
  forget(pack: number): void {
    const fd = this.fds.get(pack)
    if (fd === undefined) return
    this.fds.delete(pack)
    if (this.inFlight.has(fd)) this.closing.add(fd)
    else closeSync(fd)
  }

  close(): void {
    for (const pack of [...this.fds.keys()]) this.forget(pack)
  }

  private fd(pack: number, what: string): number {
    let fd = this.fds.get(pack)
    if (fd !== undefined) return fd
    try {
      fd = openSync(this.path(pack), 'r')
    } catch (err) {
      // A pack the index points into is gone: that is lost data (exit 4), not a usage error (issue 20, point 10).
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      throw new IntegrityError(`${what}pack file ${this.path(pack)} is missing, with every block indexed in it; ` +
        'run `polar repair` to drop them from the index (a node then fetches them again from its peers)', {code: 'PACK_MISSING', cause: err})
    }
    this.fds.set(pack, fd)
    return fd
  }

  private short(loc: PackLocation, what: string): IntegrityError {
    return new IntegrityError(`${what}pack file ${this.path(loc.pack)} is shorter than its index says (truncated?); run \`polar repair\``)
  }
}
