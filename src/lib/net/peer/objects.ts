import type {Readable} from 'node:stream'
import type {CID} from 'multiformats/cid'
import {safeJson} from './answers.js'
import type {PeerTransport, RequestOptions} from './transport.js'

/** A replication or a remote write may take this long: the peer fetches, checks and stores every block first. */
const TRANSFER_TIMEOUT_MS = 10 * 60_000
/** The answers to a remote write are small JSON documents. */
const WRITE_ANSWER_BYTES = 64 * 1024

/**
 * The object routes of a peer (docs/protocol.md "Replication and placement", "Remote writes",
 * "Search"): replication, object records, remote writes and search.
 * `peer.objects.replicate(record, sources)`.
 */
export class ObjectsClient {
  constructor(private readonly t: PeerTransport) {}

  /** Asks the peer to hold an object: it fetches what it lacks from us (or others) and answers when every block is durable. */
  replicate(record: Uint8Array, sources: string[], options: RequestOptions & {replicas?: number} = {}): Promise<{held: boolean; blocks: number}> {
    return this.t.json('POST', '/v1/replicate', {record: Buffer.from(record).toString('base64'), sources, replicas: options.replicas}, {...options, sign: true, timeoutMs: options.timeoutMs ?? TRANSFER_TIMEOUT_MS})
  }

  /** The object records (base64) the peer holds for `root`; the caller verifies them. */
  records(root: CID, options: RequestOptions = {}): Promise<{records: string[]}> {
    return this.t.json('GET', `/v1/records?root=${root}`, undefined, options)
  }

  /** Searches the peer's own index (GET /v1/search); the caller verifies every record. `from` asks for owners' trust scores seen from that did. */
  search(params: URLSearchParams, options: RequestOptions = {}): Promise<{records: unknown; trust?: unknown}> {
    return this.t.json('GET', `/v1/search?${params}`, undefined, options)
  }

  /**
   * A remote user write, first step (`POST /v1/objects`, signed by this
   * client's identity, the record's owner): the answer as it is, since a 403
   * STAMP_REQUIRED carries the stamp bits the node asks for.
   */
  async submit(payload: {record: string; replicas?: number; stamp?: unknown}, options: RequestOptions = {}): Promise<{status: number; body: any}> {
    const r = await this.t.request('POST', '/v1/objects', Buffer.from(JSON.stringify(payload)), {...options, sign: true, maxBytes: WRITE_ANSWER_BYTES, timeoutMs: options.timeoutMs ?? TRANSFER_TIMEOUT_MS})
    return {status: r.status, body: safeJson(r.body)}
  }

  /**
   * A remote write's second step: the object's `size` bytes to the one-use
   * `path` the node named (PUT, streamed with back-pressure, unsigned: the
   * path is the capability). The node answers once it has rebuilt and
   * checked the DAG against the record; the answer (status and JSON body) as it is.
   */
  async upload(path: string, body: Readable, size: number, options: RequestOptions = {}): Promise<{status: number; body: any}> {
    const r = await this.t.stream('PUT', path, body, size, {...options, maxBytes: WRITE_ANSWER_BYTES, timeoutMs: options.timeoutMs ?? TRANSFER_TIMEOUT_MS})
    return {status: r.status, body: safeJson(r.body)}
  }
}
