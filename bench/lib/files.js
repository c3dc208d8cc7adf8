// Input files for the rows: random data written once per bench run, and a
// streaming hash to check what a run wrote (outside the timed part).
import {createHash, randomFillSync} from 'node:crypto'
import {closeSync, createReadStream, fsyncSync, openSync, writeSync} from 'node:fs'

const MiB = 1024 * 1024

/** `bytes` of random data in `path`, fsynced. */
export function writeRandomFile(path, bytes) {
  const fd = openSync(path, 'w')
  const buf = Buffer.allocUnsafe(8 * MiB)
  for (let left = bytes; left > 0; left -= buf.length) {
    const n = Math.min(left, buf.length)
    randomFillSync(buf, 0, n)
    writeSync(fd, buf, 0, n)
  }
  fsyncSync(fd)
  closeSync(fd)
}

/** Resolves {sha256 (hex), bytes} of a file. */
export function hashFile(path) {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256')
    let bytes = 0
    createReadStream(path, {highWaterMark: MiB})
      .on('data', (b) => { h.update(b); bytes += b.length })
      .on('error', reject)
      .on('end', () => resolve({sha256: h.digest('hex'), bytes}))
  })
}
