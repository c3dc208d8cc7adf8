import {closeSync, fsyncSync, linkSync, openSync, renameSync, unlinkSync, writeSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'
import {randomBytes} from 'node:crypto'

/** fsync a directory so that a rename or a new entry in it survives a crash. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** A temp name beside `path`, so the final rename stays on one filesystem. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
}

/**
 * Small-file write that is all-or-nothing across a crash: temp file, fsync,
 * rename over the target, fsync the directory.
 */
export function writeFileAtomicSync(path: string, data: Uint8Array | string, mode = 0o600, flag: 'w' | 'wx' = 'w'): void {
  const tmp = tempPathFor(path)
  const fd = openSync(tmp, 'wx', mode)
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data
    let off = 0
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off)
    fsyncSync(fd)
  } catch (err) {
    closeSync(fd)
    try { unlinkSync(tmp) } catch {}
    throw err
  }
  closeSync(fd)
  if (flag === 'wx') {
    // link(2) fails if the target exists: no window where two writers both win.
    try {
      linkSync(tmp, path)
    } finally {
      try { unlinkSync(tmp) } catch {}
    }
  } else {
    renameSync(tmp, path)
  }
  fsyncDir(dirname(path))
}

