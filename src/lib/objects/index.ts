import {createReadStream, statSync} from 'node:fs'
import {basename} from 'node:path'
import type {Writable} from 'node:stream'
import {buildFile} from '../content/index.js'
import {assertSupportedCid, CID, parseCid} from '../content/cid.js'
import {CHUNK_SIZE} from '../content/constants.js'
import {readFile} from '../content/reader.js'
import {InputError, NotFoundError} from '../errors.js'
import type {Identity} from '../identity/index.js'
import {signObjectRecord} from '../records/index.js'
import type {Store} from '../store/store.js'
import {writeChunks, type PullResult} from '../util/output.js'
import {guessMime} from './mime.js'
import {BaseVersion, EncodingSink, type EncodeStats} from '../codec/versions.js'

export {guessMime}
export {writeChunks} from '../util/output.js'

export interface PushInput {
  /** A file path, or '-' for standard input. */
  file: string
  /** Bytes to push instead of reading `file` (a node receiving a push over its socket). */
  stream?: AsyncIterable<Uint8Array>
  name?: string
  tags?: string[]
  mime?: string
  /**
   * Root CID of an earlier version to delta-encode against (push --base). By
   * default the newest object of the same owner and name is the base; 'none'
   * turns that off.
   */
  base?: string
  signal?: AbortSignal
  onProgress?: (event: {bytes: number; total?: number}) => void
}

export interface PushResult {
  cid: string
  size: number
  name: string
  mime: string
  tags: string[]
  owner: string
  record: string
  /** Distinct nodes holding every block. Standalone: this store. */
  replicas: number
  blocks: number
  /** Blocks this push added (the rest were already stored). */
  newBlocks: number
  /** The earlier version new leaves were delta-encoded against, if any. */
  base?: string
  /** How the new leaves were stored (issue 6): counts by codec and bytes written for them vs their raw size. */
  encoding?: EncodeStats
}

/** Opens the push source: a readable file (exit 2 if not) or standard input. */
export function openSource(file: string): {stream: AsyncIterable<Uint8Array>; total?: number; name: string} {
  if (file === '-') return {stream: process.stdin, name: ''}
  let size: number
  try {
    const st = statSync(file)
    if (st.isDirectory()) throw new InputError(`${file} is a directory; polar pushes files (use tar to bundle a directory)`)
    size = st.size
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new InputError(`no such file: ${file}`)
    if (code === 'EACCES') throw new InputError(`cannot read ${file}: permission denied`)
    throw err
  }
  return {stream: createReadStream(file, {highWaterMark: CHUNK_SIZE}), total: size, name: basename(file)}
}

/**
 * Stores a file or stream as a UnixFS DAG, signs its object record with
 * `identity`, and stores the record. Returns once every block and the record
 * are durable.
 */
export async function pushObject(store: Store, identity: Identity, input: PushInput): Promise<PushResult> {
  const src = input.stream ? {stream: input.stream, name: '', total: undefined} : openSource(input.file)
  const name = input.name ?? src.name
  const mime = input.mime ?? guessMime(name)
  const base = chooseBase(store, identity, name, input.base)
  const writer = store.blocks.writer()
  const sink = new EncodingSink(store.blocks, writer, base)
  let built
  let recordCid = ''
  let tags: string[] = []
  try {
    built = await buildFile(src.stream, sink, {
      signal: input.signal,
      onProgress: input.onProgress && ((e) => input.onProgress!({bytes: e.bytes, total: src.total})),
    })
    const {cid, size} = built
    // The record is stored while the writer's pins hold every block of the object: an erase
    // of the same content sweeping meanwhile keeps them, and one after it sees the record
    // (issue 20, point 3: an acknowledged push always pulls).
    await writer.close({whilePinned: () => {
      const existing = store.records.objectsByRoot(cid.toString())
        .find((r) => r.owner === identity.did && r.name === name && r.mime === mime && sameTags(r.tags, input.tags ?? []))
      if (existing) {
        recordCid = existing.cid
        tags = existing.tags
      } else {
        const signed = signObjectRecord({root: cid, size, name, mime, tags: input.tags ?? [], time: Date.now()}, identity)
        store.records.putObject(signed.bytes)
        recordCid = signed.cid.toString()
        tags = signed.record.tags
      }
    }})
  } catch (err) {
    await writer.abort()
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EISDIR') throw new InputError(`${input.file} is a directory`)
    throw err
  }
  return {
    cid: built.cid.toString(), size: built.size, name, mime, tags, owner: identity.did, record: recordCid,
    replicas: 1, blocks: built.blocks, newBlocks: writer.written,
    ...(base && !base.root.equals(built.cid) ? {base: base.root.toString()} : {}), encoding: sink.stats,
  }
}

/** The base version of a push: --base CID (which must be here), else the newest object of this owner and name. */
function chooseBase(store: Store, identity: Identity, name: string, base: string | undefined): BaseVersion | undefined {
  if (base === 'none') return undefined
  if (base !== undefined) {
    const root = parseCid(base)
    assertSupportedCid(root)
    const version = BaseVersion.open(store.blocks, root)
    if (!version) throw new NotFoundError(`--base ${root}: that object is not (wholly) in this store; pull it first, or push without --base`)
    return version
  }
  const latest = name ? store.records.latestRoot(identity.did, name) : undefined
  return latest ? BaseVersion.open(store.blocks, CID.parse(latest)) : undefined
}

function sameTags(a: string[], b: string[]): boolean {
  const nb = [...new Set(b.map((t) => t.trim()).filter(Boolean))].sort()
  return a.length === nb.length && a.every((t, i) => t === nb[i])
}

export interface PullInput {
  cid: string
  /** Write here (a file atomically, a FIFO or device straight into: util/output-target.ts); otherwise to `stdout`. */
  output?: string
  stdout?: Writable
  /** Print to a terminal even when the object looks binary. */
  force?: boolean
  signal?: AbortSignal
  onProgress?: (event: {bytes: number; total?: number}) => void
}

export type {PullResult} from '../util/output.js'

/** Reads an object from the store, verifying every block before writing any of its bytes. */
export async function pullObject(store: Store, input: PullInput): Promise<PullResult> {
  const root = parseCid(input.cid)
  assertSupportedCid(root)
  if (!store.blocks.has(root)) {
    throw new NotFoundError(`no object ${root} in this store (${store.home}); check the CID, or pull through a node that holds it`)
  }
  const total = store.records.objectsByRoot(root.toString())[0]?.size
  const source = {get: (cid: typeof root) => store.blocks.get(cid, {verify: false})}
  return writeChunks(root.toString(), readFile(root, source, {signal: input.signal}), {...input, total})
}

