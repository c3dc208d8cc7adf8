import {createReadStream, createWriteStream, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {pipeline} from 'node:stream/promises'
import {buildFile} from '../content/index.js'
import {NetworkError, NotAllowedError, PolarError} from '../errors.js'
import type {Identity} from '../identity/index.js'
import {PeerClient} from '../net/peer/index.js'
import {errorFromResponse} from '../net/http.js'
import {DEFAULT_MAX_STAMP_BITS, mintStamp, writeStampResource} from '../records/stamp.js'
import {guessMime, openSource, type PushResult} from '../objects/index.js'
import {signObjectRecord} from '../records/object-record.js'


export interface RemotePushInput {
  file: string
  name?: string
  tags?: string[]
  mime?: string
  replicas?: number
  /** The most proof-of-work this client will do to be admitted (bits). */
  maxStampBits?: number
  signal?: AbortSignal
}

export interface RemotePushResult extends PushResult {
  nodes: string[]
  /** Why the node took the write: 'owner', 'trust' or 'stamp'. */
  admittedBy: string
}

/**
 * `push --node URL` (docs/protocol.md "Remote writes"): builds the DAG here
 * (hashing only) to sign the object record, asks the node to admit the write
 * (it takes trusted owners; others pay a proof-of-work stamp of the bits it
 * names, minted here up to `maxStampBits`), then streams the bytes, which
 * the node rebuilds and checks against the record. Standard input is spooled
 * to a private temp file first, since the bytes are read twice.
 */
export async function remotePush(nodeUrl: string, identity: Identity, input: RemotePushInput): Promise<RemotePushResult> {
  const origin = new URL(nodeUrl).origin
  let path = input.file
  let spool: string | undefined
  let name = input.name
  if (input.file === '-') {
    spool = mkdtempSync(join(tmpdir(), 'polar-push-'))
    path = join(spool, 'stdin')
    await pipeline(process.stdin, createWriteStream(path, {mode: 0o600}))
    name ??= ''
  } else {
    name ??= openSource(input.file).name // exit 2 for a missing or unreadable file
  }
  const peer = new PeerClient(origin, {identity, connections: 1})
  try {
    const built = await buildFile(createReadStream(path), {put: () => {}}, {signal: input.signal})
    const signed = signObjectRecord({root: built.cid, size: built.size, name, mime: input.mime ?? guessMime(name), tags: input.tags ?? [], time: Date.now()}, identity)
    const root = built.cid.toString()
    const ask = (stamp?: {bits: number; nonce: string; time: number}) => peer.objects.submit({record: Buffer.from(signed.bytes).toString('base64'), replicas: input.replicas, stamp}, {signal: input.signal})
    let answer = await ask()
    if (answer.status === 403 && answer.body?.error?.code === 'STAMP_REQUIRED' && Number.isInteger(answer.body?.stampBits)) {
      const bits = answer.body.stampBits as number
      const max = input.maxStampBits ?? DEFAULT_MAX_STAMP_BITS
      if (bits > max) throw new NotAllowedError(`${origin}: ${answer.body.error.message}; it asks for ${bits} bits, more than --max-stamp-bits ${max}`, {code: 'STAMP_REQUIRED'})
      const time = Date.now()
      const stamp = await mintStamp(writeStampResource(identity.did, root), time, bits, input.signal)
      answer = await ask({...stamp, time})
    }
    if (answer.status >= 300) throw errorFromResponse(answer.status, answer.body, origin)
    const a = answer.body ?? {}
    let done = a
    if (!a.held) {
      if (typeof a.upload !== 'string' || !/^\/v1\/objects\/[0-9a-f]{32}$/.test(a.upload)) throw new NetworkError(`${origin}: admitted the write but named no upload path`)
      const uploaded = await peer.objects.upload(a.upload, createReadStream(path), built.size, {signal: input.signal})
      done = uploaded.body
      if (uploaded.status >= 300) throw errorFromResponse(uploaded.status, done, origin)
    }
    const r = signed.record
    return {
      cid: root, size: r.size, name: r.name, mime: r.mime, tags: r.tags, owner: r.owner, record: signed.cid.toString(),
      replicas: Number(done?.replicas ?? 1), nodes: Array.isArray(done?.nodes) ? done.nodes : [], blocks: built.blocks,
      newBlocks: Number(done?.blocks ?? 0), admittedBy: String(a.admittedBy ?? ''),
    }
  } catch (err) {
    if (err instanceof PolarError) throw err
    throw new NetworkError(`${origin}: ${(err as Error).message}`, {cause: err})
  } finally {
    await peer.destroy().catch(() => {})
    if (spool) rmSync(spool, {recursive: true, force: true})
  }
}
