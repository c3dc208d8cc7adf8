import type {CID} from 'multiformats/cid'
import {verifyBlock} from '../../content/cid.js'
import {MAX_BLOCK_SIZE} from '../../content/constants.js'
import {IntegrityError, NetworkError, NotFoundError} from '../../errors.js'
import type {BulkFrame} from './bulk.js'
import type {PeerTransport, RequestOptions} from './transport.js'

/** Codec answers (dynamic block mode) may carry this much over a raw block: the codec byte and headers. */
const ENCODED_SLACK_BYTES = 64 * 1024

/** The block routes of a peer (docs/protocol.md "Peer protocol", "Block batches", "Dynamic block mode"): `peer.blocks.get(cid)`. */
export class BlocksClient {
  constructor(private readonly t: PeerTransport) {}

  /** Which of `cids` the peer holds (POST /v1/blocks/has), in order. */
  async has(cids: CID[], options: RequestOptions = {}): Promise<boolean[]> {
    const r = await this.t.json('POST', '/v1/blocks/has', {cids: cids.map(String)}, options)
    if (!Array.isArray(r?.have) || r.have.length !== cids.length) throw new NetworkError(`${this.t.origin}: malformed has answer`)
    return r.have.map(Boolean)
  }

  /** A block, verified against its CID (and the 2 MiB cap); NotFoundError when the peer lacks it. */
  async get(cid: CID, options: RequestOptions = {}): Promise<Uint8Array> {
    const r = await this.t.request('GET', `/v1/blocks/${cid}`, undefined, {...options, maxBytes: MAX_BLOCK_SIZE})
    if (r.status === 404) throw new NotFoundError(`${this.t.origin} does not have block ${cid}`)
    if (r.status !== 200) throw this.t.refusal(r)
    return verifyBlock(cid, r.body, `block from ${this.t.origin}`)
  }

  /**
   * Several blocks in one request (`POST /v1/blocks/get`): those of `cids`
   * the peer holds, in order, NOT yet verified — the caller must hash-check
   * every one before using it (against `sha256` where the bulk client hashed
   * the block as it arrived; else on the fetcher's hash pool). Blocks the
   * peer lacks are simply absent; a block that was not asked for, or sent
   * twice, is an IntegrityError. `alloc` gives each block its memory (a pool slot; see
   * util/block-pool.ts) and `discard` takes back the memory of blocks an
   * error leaves unreturned.
   */
  async getManyUnverified(cids: CID[], options: RequestOptions & {alloc?: (size: number, cid: CID) => Buffer; discard?: (bytes: Buffer) => void} = {}): Promise<BulkFrame[]> {
    const alloc = options.alloc ?? ((n: number) => Buffer.allocUnsafe(n))
    const got: Buffer[] = []
    const giveBack = () => { for (const b of got) options.discard?.(b) }
    let r
    try {
      r = await this.t.frames('/v1/blocks/get', Buffer.from(JSON.stringify({cids: cids.map(String)})), {signal: options.signal, timeoutMs: options.timeoutMs, alloc: (n, cid) => {
        const b = alloc(n, cid)
        got.push(b)
        return b
      }})
    } catch (err) {
      giveBack()
      throw err
    }
    if (r.status !== 200) throw this.t.refusal(r)
    const asked = new Set(cids.map(String))
    for (const f of r.frames) {
      // Each asked-for block once: taking one out of the set also refuses a second copy (whose memory nobody would return).
      if (!asked.delete(f.cid.toString())) {
        giveBack()
        throw new IntegrityError(`${this.t.origin} sent block ${f.cid}, which was not asked for (or sent it twice)`)
      }
    }
    return r.frames
  }

  /**
   * Dynamic block mode (issue 6): for each CID, the bases the peer stores it
   * against ([] for raw blocks, and from nodes without codecs).
   */
  async bases(cids: CID[], options: RequestOptions = {}): Promise<string[][]> {
    const r = await this.t.json('POST', '/v1/blocks/bases', {cids: cids.map(String)}, options)
    if (!Array.isArray(r?.bases) || r.bases.length !== cids.length) throw new NetworkError(`${this.t.origin}: malformed bases answer`)
    return r.bases.map((b: unknown) => (Array.isArray(b) ? b.filter((x) => typeof x === 'string').slice(0, 16) : []))
  }

  /**
   * A block in dynamic block mode: one codec byte, then the block encoded as
   * the peer chose from `accept` and the bases this node holds (`have`). NOT
   * verified here: the caller decodes it against its own bases and verifies
   * (src/lib/node/dynamic-source.ts). The raw path stays get().
   */
  async getEncoded(cid: CID, accept: string[], have: CID[], options: RequestOptions = {}): Promise<Uint8Array> {
    const q = `accept=${accept.map(encodeURIComponent).join(',')}&have=${have.map(String).join(',')}`
    const r = await this.t.request('GET', `/v1/blocks/${cid}/encoded?${q}`, undefined, {...options, maxBytes: MAX_BLOCK_SIZE + ENCODED_SLACK_BYTES})
    if (r.status === 404) throw new NotFoundError(`${this.t.origin} does not have block ${cid} (or no dynamic block mode)`)
    if (r.status !== 200) throw this.t.refusal(r)
    return r.body
  }
}
