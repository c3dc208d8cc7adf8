import type {CID} from 'multiformats/cid'
import {CODEC_DELTA_GZIP, CODEC_GZIP, isDelta, CODEC_NAMES, CODEC_RAW, type CodecName} from './constants.js'

/**
 * Dynamic block mode (Planet draft 003, "Block protocol"): each peer gets the
 * encoding that suits it. The receiver says which codecs it accepts and which
 * base blocks it holds; the sender answers with its stored delta when the
 * receiver holds all of that delta's bases, its stored gzip when gzip is
 * accepted, and the raw bytes otherwise. Static mode (GET /v1/blocks/CID and
 * the IPFS gateway) always serves raw bytes with their original CID.
 */
export const ACCEPTED_CODECS: CodecName[] = ['raw', 'gzip', 'delta', 'delta+gzip']
/** Bases a receiver may name per request. */
export const MAX_HAVE = 16

export interface PeerOffer {
  accept: Set<string>
  have: Set<string>
}

/** Where the sender reads a block, decoded and as stored (BlockStore and its codecs). */
export interface StoredBlocks {
  /** The decoded bytes, verified; NotFoundError / IntegrityError. */
  get(cid: CID): Uint8Array
  codecs: {
    codecOf(cid: CID): number | undefined
    stored(cid: CID): {bytes: Uint8Array; bases: CID[]}
  }
}

/** What to send a peer for `cid`: a codec byte and the bytes after it (the raw bytes for codec 0). Throws NotFoundError/IntegrityError as BlockStore.get does. */
export function encodeForPeer(blocks: StoredBlocks, cid: CID, offer: PeerOffer): {codec: number; body: Uint8Array; wire: 'stored' | 'raw'} {
  // Verified first, always: a node never forwards what does not decode to its CID.
  const decoded = blocks.get(cid)
  const codec = blocks.codecs.codecOf(cid) ?? CODEC_RAW
  if (codec !== CODEC_RAW && offer.accept.has(CODEC_NAMES[codec])) {
    const stored = blocks.codecs.stored(cid)
    const basesHeld = stored.bases.every((b) => offer.have.has(b.toString()))
    const stackOk = codec !== CODEC_DELTA_GZIP || offer.accept.has('gzip')
    if ((codec === CODEC_GZIP || (isDelta(codec) && basesHeld && stackOk)) && stored.bytes.length < decoded.length) {
      return {codec, body: stored.bytes, wire: 'stored'}
    }
  }
  return {codec: CODEC_RAW, body: decoded, wire: 'raw'}
}

/** Parses `accept=gzip,delta&have=cid,cid` (bounded); unknown codecs are ignored. */
export function parseOffer(accept: string | null, have: string | null): PeerOffer {
  const a = new Set((accept ?? '').split(',').map((s) => s.trim()).filter((s) => (ACCEPTED_CODECS as string[]).includes(s)).slice(0, 8))
  const h = new Set((have ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0 && s.length <= 200).slice(0, MAX_HAVE))
  return {accept: a, have: h}
}
