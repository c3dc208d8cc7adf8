import {CID} from 'multiformats/cid'
import {CODEC_RAW, isDelta, CodecError, decodeBlock, MAX_DELTA_DEPTH, parseEncoded} from '../codec/index.js'
import {ACCEPTED_CODECS, MAX_HAVE} from '../codec/transfer.js'
import {RAW_CODE} from '../content/constants.js'
import {NotFoundError} from '../errors.js'
import {NetworkBlockSource, type Source} from './fetcher.js'

/**
 * Reads through a node in dynamic block mode (issue 6; draft 003 "Block
 * protocol"). For the leaves of each dag-pb node it asks one peer, in one
 * batch, which bases it stores them against; a leaf whose bases this node
 * already holds is fetched encoded (GET /v1/blocks/CID/encoded — usually a
 * delta of a few KiB instead of 1 MiB), decoded against the local bases,
 * verified, and stored in that encoding. Every other block takes the plain raw
 * path (PeerClient.blocks.get), so raw content pulls exactly as before. A peer
 * whose encoded block does not decode to its CID is counted as sending a bad
 * block, as for a raw one.
 */
export class DynamicBlockSource extends NetworkBlockSource {
  private readonly bases = new Map<string, Promise<string[]>>()
  /** This node held no block when the read began (checked once). */
  private noBlocks: boolean | undefined
  /** Blocks that came encoded, and the bytes they took on the wire vs decoded. */
  encoded = 0
  encodedWireBytes = 0
  encodedBytes = 0

  override onLinks(links: CID[]): void {
    super.onLinks(links) // raw batches (fetcher.ts) for the blocks batchable() keeps
    // A node with no blocks holds no base: nothing can come encoded, so no round trip to ask.
    if (this.sources.length === 0 || (this.noBlocks ??= this.store.blocks.isEmpty())) return
    const ask = links.filter((c) => c.code === RAW_CODE && !this.bases.has(c.toString()) && !this.store.blocks.has(c))
    if (ask.length === 0) return
    const src = this.sources[0]
    const answer = src.client.blocks.bases(ask).catch(() => ask.map(() => [] as string[])) // an old node: no bases, raw path
    ask.forEach((c, i) => this.bases.set(c.toString(), answer.then((all) => all[i] ?? [])))
  }

  /** A block with a base held here is left to fetchBlock (it may come encoded); the rest go raw in batches. */
  protected override async batchable(cids: CID[]): Promise<CID[]> {
    const keep: CID[] = []
    for (const c of cids) {
      const pending = this.bases.get(c.toString())
      const named = pending ? await pending : []
      const held = named.some((b) => {
        try {
          return this.store.blocks.has(CID.parse(b))
        } catch {
          return false
        }
      })
      if (!held) keep.push(c)
    }
    return keep
  }

  protected override async fetchBlock(src: Source, cid: CID, options: {signal?: AbortSignal}, heal: boolean): Promise<Uint8Array> {
    const pending = this.bases.get(cid.toString())
    // Healing a local copy takes the raw path: the local bases may be what is damaged.
    if (!pending || heal) return super.fetchBlock(src, cid, options, heal)
    const named = await pending
    const have: CID[] = []
    for (const b of named) {
      try {
        const c = CID.parse(b)
        if (this.store.blocks.has(c)) have.push(c)
      } catch {}
    }
    if (have.length === 0) return super.fetchBlock(src, cid, options, heal)
    let wire: Uint8Array
    try {
      wire = await src.client.blocks.getEncoded(cid, ACCEPTED_CODECS, have.slice(0, MAX_HAVE), options)
    } catch (err) {
      if (err instanceof NotFoundError) return super.fetchBlock(src, cid, options, heal)
      throw err
    }
    // Decoded against this node's own bases and verified (decodeBlock hashes the result);
    // anything wrong is an IntegrityError, which counts the peer as misbehaving.
    const header = parseEncoded(wire)
    let localFault: unknown
    let bytes: Uint8Array
    try {
      bytes = decodeBlock(cid, wire, (b) => {
        if (!this.store.blocks.has(b)) throw new CodecError('MISSING_BASE', `block ${cid} from a peer names base ${b}, which this node does not hold`)
        try {
          return this.store.blocks.get(b)
        } catch (err) {
          localFault = err
          throw err
        }
      })
    } catch (err) {
      // A base of ours that fails to read is our fault, not the peer's: take the block raw.
      if (localFault === undefined) throw err
      return super.fetchBlock(src, cid, options, heal)
    }
    this.encoded++
    this.encodedWireBytes += wire.length
    this.encodedBytes += bytes.length
    if (header.codec !== CODEC_RAW && !heal && !this.writer.took(cid)) {
      const depth = isDelta(header.codec) ? this.store.blocks.codecs.depthFor(header.bases) : 0
      // Stored as it came unless that would make the chain too deep (then whole: the put after this returns).
      if (depth <= MAX_DELTA_DEPTH) await this.writer.putEncoded(cid, wire, {codec: header.codec, depth, bases: header.bases})
    }
    return bytes
  }
}

