import {lstatSync, realpathSync, statSync, type Stats} from 'node:fs'
import {InputError} from '../errors.js'

/**
 * What `-o PATH` names, and so how polar writes it (issue 19: `pull -o
 * /dev/null` run as root once replaced the device with a regular file).
 *
 * - `file`: a regular file, or nothing yet: written to a temp file beside it
 *   and renamed into place (AtomicOutput). When PATH is a symbolic link to a
 *   regular file, `path` is the file it points to, so the link stays and the
 *   file behind it is replaced, as `cp` writes through a link.
 * - `fifo`, `device` (character or block): written straight into, never
 *   replaced: a device or FIFO is not ours to swap for a file, and a FIFO's
 *   reader is waiting on that very FIFO. There is no temp file, so a failed
 *   pull leaves what it wrote so far, as on stdout.
 *
 * A directory, a socket and a dangling symbolic link are refused (exit 2):
 * `cp` does not write through a dangling link either.
 */
export type OutputTarget = {kind: 'file'; path: string} | {kind: 'fifo' | 'device'; path: string}

export function outputTarget(path: string): OutputTarget {
  let st: Stats
  try {
    st = statSync(path) // follows links, including /dev/stdout and /proc/self/fd/N
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'ENOENT') {
      if (code === 'ENOTDIR' || code === 'EACCES' || code === 'ELOOP') throw new InputError(`cannot write to ${path}: ${(err as Error).message}`)
      throw err
    }
    let link = false
    try {
      link = lstatSync(path).isSymbolicLink()
    } catch {}
    if (link) throw new InputError(`output ${path} is a symbolic link to something that does not exist; polar does not create files through a dangling link (as cp does not): remove the link or name the file it should point to`)
    return {kind: 'file', path}
  }
  if (st.isDirectory()) throw new InputError(`output ${path} is a directory`)
  if (st.isFile()) return {kind: 'file', path: realpathSync(path)}
  if (st.isFIFO()) return {kind: 'fifo', path}
  if (st.isCharacterDevice() || st.isBlockDevice()) return {kind: 'device', path}
  throw new InputError(`output ${path} is a socket; polar writes to files, devices and FIFOs`)
}

/** True when `-o PATH` is written straight into (a FIFO or a device) rather than replaced. */
export function writesInto(path: string): boolean {
  try {
    return outputTarget(path).kind !== 'file'
  } catch {
    return false // the writer reports the error
  }
}
