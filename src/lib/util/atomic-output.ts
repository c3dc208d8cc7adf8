import {closeSync, fsyncSync, openSync, renameSync, statSync, unlinkSync, writeSync} from 'node:fs'
import {dirname} from 'node:path'
import {InputError} from '../errors.js'
import {fsyncDir, tempPathFor} from './fs.js'

const live = new Set<string>()
let hooked = false

/** On SIGINT/SIGTERM, remove temp files of outputs not yet committed, then die as the signal says. */
function hookSignals(): void {
  if (hooked) return
  hooked = true
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const p of live) try { unlinkSync(p) } catch {}
      process.kill(process.pid, sig)
    })
  }
}

/**
 * An output file that appears complete or not at all: bytes go to a temp
 * name beside it, and `commit()` fsyncs and renames it into place. A crash
 * leaves at most the temp file (a dot-file), never a half-written target.
 */
export class AtomicOutput {
  private fd: number
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
    live.add(this.tmp)
    hookSignals()
  }

  write(chunk: Uint8Array): void {
    let off = 0
    while (off < chunk.length) off += writeSync(this.fd, chunk, off, chunk.length - off)
    this.bytes += chunk.length
  }

  commit(): void {
    fsyncSync(this.fd)
    closeSync(this.fd)
    renameSync(this.tmp, this.path)
    live.delete(this.tmp)
    fsyncDir(dirname(this.path))
  }

  discard(): void {
    try { closeSync(this.fd) } catch {}
    try { unlinkSync(this.tmp) } catch {}
    live.delete(this.tmp)
  }
}
