import {NetworkError} from '../errors.js'
import {PeerClient} from '../net/peer/index.js'
import {decodePeerRecord} from '../records/peer-record.js'

export interface SeedPeer {
  did: string
  urls: string[]
  services: string
  time: number
}

/**
 * `polar seed URL…` with no node of our own to register: sends the seed
 * requests, verifies every record (signature, stamp, freshness) as a node
 * would, and reports the peers each seed offers. Nothing is stored.
 */
export async function probeSeeds(urls: string[], minBits: number): Promise<{asked: number; answered: number; learned: number; registered: 0; peers: SeedPeer[]; errors: Array<{url: string; error: string}>}> {
  const peers = new Map<string, SeedPeer>()
  const errors: Array<{url: string; error: string}> = []
  let answered = 0
  await Promise.all(urls.map(async (url) => {
    const client = new PeerClient(url, {connections: 1})
    try {
      const records = await client.discovery.seed({timeoutMs: 15_000})
      answered++
      for (const bytes of records) {
        try {
          const {record} = decodePeerRecord(bytes, {minBits})
          const held = peers.get(record.did)
          if (!held || held.time < record.time) peers.set(record.did, {did: record.did, urls: record.urls, services: record.services, time: record.time})
        } catch (err) {
          errors.push({url, error: (err as Error).message})
        }
      }
    } catch (err) {
      errors.push({url, error: (err as Error).message})
    } finally {
      await client.destroy().catch(() => {})
    }
  }))
  if (answered === 0) throw new NetworkError(`no seed answered: ${errors.map((e) => `${e.url}: ${e.error}`).join('; ')}`)
  return {asked: urls.length, answered, learned: peers.size, registered: 0, peers: [...peers.values()], errors}
}
