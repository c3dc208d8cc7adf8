import {readFileSync} from 'node:fs'
import {hostname} from 'node:os'

export const HOST = hostname()

/** This process, as recorded by leases and locks: `host:pid`. */
export const HOLDER = `${HOST}:${process.pid}`

/**
 * True when a live process with this pid exists on this host (EPERM: it
 * exists, not ours). A zombie — killed, not yet reaped by its parent — still
 * answers kill(pid, 0) but holds nothing: on Linux, /proc tells.
 */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return true // no /proc (not Linux): kill(pid, 0) is all we know
  }
}

/** A `host:pid` holder that is certainly gone: a dead pid on this host. Other hosts: unknown (false). */
export function holderIsDead(holder: string): boolean {
  const sep = holder.lastIndexOf(':')
  return holder.slice(0, sep) === HOST && !pidAlive(Number(holder.slice(sep + 1)))
}
