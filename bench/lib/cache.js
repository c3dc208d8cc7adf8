// Cold reads for the pull rows (issue 15 point 2): `sync`, then
// `echo 3 > /proc/sys/vm/drop_caches`, so the next read of a pack or of
// nginx's file comes from the disk, not from the page cache. Needs root (and
// a /proc/sys that is writable: not in every container); when it is not
// permitted, the rows still run, warm, and say so in their note.
import {execFileSync} from 'node:child_process'
import {writeFileSync} from 'node:fs'

const DROP = '/proc/sys/vm/drop_caches'
let refused = null

/** Flush dirty pages, then drop clean page-cache pages, dentries and inodes. Returns null, or why it could not. */
export function dropCaches() {
  if (refused) return refused
  try { execFileSync('sync') } catch { /* best effort: drop_caches still drops what is clean */ }
  try {
    writeFileSync(DROP, '3\n')
    return null
  } catch (e) {
    refused = `could not drop the page cache (${e.code ?? e.message} writing ${DROP}${process.getuid?.() === 0 ? '' : ': not root'}): both sides may read from memory`
    return refused
  }
}

/** Whether dropCaches works here (tries it once); null when it does, else why not. */
export const cacheDropRefused = () => dropCaches()
