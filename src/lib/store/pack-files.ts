import {readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {IntegrityError} from '../errors.js'
import type {Database} from './db.js'

/** Pack file names: pack-NNNNNN (six digits or more). */
export const PACK_FILE = /^pack-(\d{6,})$/

export function packFileName(id: number): string {
  return `pack-${String(id).padStart(6, '0')}`
}

/** The pack files in `dir`, by id. */
export function listPackFiles(dir: string): Map<number, string> {
  const out = new Map<number, string>()
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return out
  }
  for (const name of names) {
    const m = PACK_FILE.exec(name)
    if (m) out.set(Number(m[1]), join(dir, name))
  }
  return out
}

/** Size of a file, or undefined when it does not exist. */
export function fileSize(path: string): number | undefined {
  try {
    return statSync(path).size
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

export interface UnknownPack {
  id: number
  path: string
  bytes: number
}

/**
 * Pack files the index knows nothing about: no row in `packs`, and not one
 * compaction retired (issue 20, point 2). A writer commits a pack's row before
 * it creates the file, and compaction records every row it deletes in
 * retired_packs, so such a file means polar.db was lost, emptied or replaced:
 * its blocks are not indexed, and nothing may truncate, reuse or unlink it.
 * Read the rows inside the same transaction as any decision taken on them.
 */
export function unknownPacks(db: Database, dir: string): UnknownPack[] {
  const files = listPackFiles(dir)
  if (files.size === 0) return []
  const known = new Set(db.prepare('SELECT id FROM packs UNION SELECT id FROM retired_packs').pluck().all() as number[])
  const out: UnknownPack[] = []
  for (const [id, path] of files) {
    if (known.has(id)) continue
    out.push({id, path, bytes: fileSize(path) ?? 0})
  }
  return out.sort((a, b) => a.id - b.id)
}

/** What is wrong and what to do about it, for the error below and for warnings. */
export function describeUnknownPacks(home: string, unknown: UnknownPack[]): string {
  const bytes = unknown.reduce((n, p) => n + p.bytes, 0)
  const names = unknown.slice(0, 3).map((p) => p.path.slice(p.path.lastIndexOf('/') + 1)).join(', ') + (unknown.length > 3 ? `, … (${unknown.length} files)` : '')
  return `the index ${join(home, 'polar.db')} does not know ${names} (${formatBytes(bytes)} of blocks): it was lost, emptied or replaced. ` +
    'Run `polar repair` to index their blocks again (every block is hashed), or move those files out of blocks/ if they do not belong to this home.'
}

/** The error every writer gives while unknown packs are present: nothing may be written until they are indexed or moved away. */
export function unknownPacksError(home: string, unknown: UnknownPack[]): IntegrityError {
  return new IntegrityError(`nothing was written, and no pack file was touched: ${describeUnknownPacks(home, unknown)}`, {code: 'UNKNOWN_PACKS'})
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`
}
