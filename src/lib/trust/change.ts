import {NotFoundError} from '../errors.js'
import {normaliseEntries, type TrustEntry} from '../records/trust-record.js'

export type TrustChange = {op: 'add'; did: string; weight: number} | {op: 'rm'; did: string}

/** The entries after `trust add` (set or replace a weight) or `trust rm` (NotFoundError when not listed). */
export function changeEntries(owner: string, entries: TrustEntry[], change: TrustChange): TrustEntry[] {
  const rest = entries.filter((e) => e.did !== change.did)
  if (change.op === 'rm') {
    if (rest.length === entries.length) throw new NotFoundError(`${change.did} is not in your trust record; see \`polar trust ls\``)
    return normaliseEntries(owner, rest)
  }
  return normaliseEntries(owner, [...rest, {did: change.did, weight: change.weight}])
}
