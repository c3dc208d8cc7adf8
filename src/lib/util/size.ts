import {InputError} from '../errors.js'

const UNITS: Record<string, number> = {'': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5}

/**
 * A size as people write it: `500M`, `10G`, `1.5T`, `4096` (bytes). Units
 * are binary (K = 1024, as df -h and kubo's StorageMax read them); `MB`,
 * `MiB` and `m` mean the same. Anything else is exit 2, naming the flag.
 */
export function parseSize(text: string, flag = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?\s*$/i.exec(text)
  const n = m ? Math.floor(Number(m[1]) * UNITS[m[2].toLowerCase()]) : NaN
  if (!m || !Number.isSafeInteger(n) || n < 1) throw new InputError(`${flag} ${JSON.stringify(text)} is not a size: give bytes or a number with K, M, G, T or P (binary units), e.g. 500M or 10G`)
  return n
}
