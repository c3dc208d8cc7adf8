import {parseCid, assertSupportedCid} from '../content/cid.js'
import {readFile} from '../content/reader.js'
import {PeerClient} from '../net/peer/index.js'
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
  const client = new PeerClient(nodeUrl, {connections: REMOTE_PREFETCH})
  try {
    return await writeChunks(root.toString(), readFile(root, {get: (cid, o) => client.blocks.get(cid, o), verifiesBlocks: true}, {prefetch: REMOTE_PREFETCH, signal: input.signal}), input)
  } finally {
    await client.destroy()
  }
}

/** A remote node's peer list (public API). */
export async function remotePeers(nodeUrl: string): Promise<Array<{did: string; url: string; services: string; lastSeen: number; state: string}>> {
  const client = new PeerClient(nodeUrl)
  try {
    return (await client.discovery.peers()).peers as any
  } finally {
    await client.destroy()
  }
}
