import {Pool} from 'undici'
import {parseCid, assertSupportedCid} from '../content/cid.js'
import {readFile} from '../content/reader.js'
import {NetworkError, PolarError} from '../errors.js'
import type {Identity} from '../identity/index.js'
import {signRequest} from '../net/auth.js'
import {PeerClient} from '../net/client.js'
import {errorFromResponse} from '../net/http.js'
import {writeChunks, type PullInput, type PullResult} from '../objects/index.js'

/** Blocks in flight when pulling from a remote node. */
const REMOTE_PREFETCH = 8

/**
 * Pulls from a remote node's public API with no local node: blocks come over
 * HTTP and every one is verified here, so the remote need not be trusted.
 */
export async function remotePull(nodeUrl: string, input: PullInput): Promise<PullResult> {
  const root = parseCid(input.cid)
  assertSupportedCid(root)
  const client = new PeerClient(nodeUrl, undefined, REMOTE_PREFETCH)
  try {
    return await writeChunks(root.toString(), readFile(root, {get: (cid, o) => client.getBlock(cid, o), verifiesBlocks: true}, {prefetch: REMOTE_PREFETCH, signal: input.signal}), input)
  } finally {
    await client.destroy()
  }
}

/** A remote node's peer list (public API). */
export async function remotePeers(nodeUrl: string): Promise<Array<{did: string; url: string; services: string; lastSeen: number; state: string}>> {
  const client = new PeerClient(nodeUrl)
  try {
    return (await client.peers()).peers as any
  } finally {
    await client.destroy()
  }
}

/**
 * Asks a remote node to accept a write signed by `identity`. The remote
 * decides by its policy (trusted keys or a proof-of-work stamp); the request
 * states the object before any bytes are sent, so a refusal costs nothing.
 */
export async function remotePushRequest(nodeUrl: string, identity: Identity, intent: {name: string; size?: number}): Promise<never> {
  const origin = new URL(nodeUrl).origin
  const body = Buffer.from(JSON.stringify(intent))
  const pool = new Pool(origin, {connections: 1})
  const peer = new PeerClient(origin, undefined, 1)
  try {
    const hello = await peer.hello({timeoutMs: 15_000})
    const res = await pool.request({method: 'POST', path: '/v1/objects', body, headers: {'content-type': 'application/json', ...signRequest(identity, 'POST', '/v1/objects', body, Date.now(), hello.did)}, signal: AbortSignal.timeout(15_000)})
    const text = await res.body.text()
    let parsed: any
    try { parsed = JSON.parse(text) } catch {}
    throw errorFromResponse(res.statusCode >= 300 ? res.statusCode : 500, parsed ?? {error: {message: `unexpected answer ${res.statusCode}`}}, origin)
  } catch (err) {
    if (err instanceof PolarError) throw err
    throw new NetworkError(`${origin}: ${(err as Error).message}`, {cause: err})
  } finally {
    await Promise.all([pool.destroy(), peer.destroy()])
  }
}
