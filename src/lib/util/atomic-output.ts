import {closeSync, fsync, ftruncateSync, openSync, renameSync, statSync, unlinkSync} from 'node:fs'
import {dirname} from 'node:path'
import {InputError} from '../errors.js'
import {fsyncDir, tempPathFor} from './fs.js'
import {StagedWriter} from './staged-writer.js'

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

/**
 * An output file that appears complete or not at all: bytes go to a temp name
 * beside it, and `commit()` fsyncs and renames it into place. A crash leaves at
 * most the temp file (a dot-file), never a half-written target. Writes go
 * through a StagedWriter (O_DIRECT where possible, in the background), so the
 * caller keeps fetching and hashing while the disk works, and the final fsync
 * has little left to do (where O_DIRECT is refused, it flushes the whole file
 * from the page cache).
 */
export class AtomicOutput {
  private fd: number
  private readonly out: StagedWriter
  readonly tmp: string
  bytes = 0

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
    this.out = new StagedWriter(this.fd, this.tmp, 0)
    live.add(this.tmp)
    hook()
  }

  /** Copies a chunk in; resolves when the caller may go on (and reuse the chunk). */
  async write(chunk: Uint8Array): Promise<void> {
    await this.out.append(chunk)
    this.bytes += chunk.length
  }

  async commit(): Promise<void> {
    await this.out.flush()
    await this.out.close()
    // A direct flush pads the last page: cut the file to its length.
    ftruncateSync(this.fd, this.bytes)
    await new Promise<void>((resolve, reject) => fsync(this.fd, (err) => (err ? reject(err) : resolve())))
    closeSync(this.fd)
    renameSync(this.tmp, this.path)
    live.delete(this.tmp)
    unhook()
    fsyncDir(dirname(this.path))
  }

  async discard(): Promise<void> {
    await this.out.close()
    try { closeSync(this.fd) } catch {}
    try { unlinkSync(this.tmp) } catch {}
    live.delete(this.tmp)
    unhook()
  }
}
