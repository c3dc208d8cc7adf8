import * as dagCbor from '@ipld/dag-cbor'
import {varint} from 'multiformats'
import type {CID} from 'multiformats/cid'

/**
 * A CARv1 writer (https://ipld.io/specs/transport/car/carv1/), small enough
 * to write by hand so that production code needs no CAR library:
 *
 *   varint(len(header)) | dag-cbor {version: 1, roots: [CID...]}
 *   then per block: varint(len(cid) + len(data)) | cid bytes | data
 *
 * The writer only frames bytes; callers decide which blocks go in, and in
 * what order, and stream the chunks out as they come.
 */

/** The IANA media type of a CAR (https://www.iana.org/assignments/media-types/application/vnd.ipld.car). */
export const CAR_MEDIA_TYPE = 'application/vnd.ipld.car'

function withVarintPrefix(length: number, body: Uint8Array[], bodyLength: number): Uint8Array {
  const size = varint.encodingLength(length)
  const out = new Uint8Array(size + bodyLength)
  varint.encodeTo(length, out, 0)
  let at = size
  for (const part of body) {
    out.set(part, at)
    at += part.length
  }
  return out
}

/** The CARv1 header: its varint length, then the dag-cbor map {version: 1, roots}. */
export function encodeCarHeader(roots: CID[]): Uint8Array {
  const header = dagCbor.encode({version: 1, roots})
  return withVarintPrefix(header.length, [header], header.length)
}

/**
 * What precedes a block's data in a CARv1 section: the varint of
 * len(cid) + len(data), then the CID's bytes. Sending the data as a separate
 * chunk avoids copying up to 2 MiB per block.
 */
export function encodeBlockPrefix(cid: CID, dataLength: number): Uint8Array {
  return withVarintPrefix(cid.bytes.length + dataLength, [cid.bytes], cid.bytes.length)
}

export interface CarBlock {
  cid: CID
  bytes: Uint8Array
}

/** Frames `blocks` as a CARv1 stream, one block at a time (never the whole DAG in memory). */
export async function * writeCar(roots: CID[], blocks: AsyncIterable<CarBlock> | Iterable<CarBlock>): AsyncGenerator<Uint8Array> {
  yield encodeCarHeader(roots)
  for await (const {cid, bytes} of blocks) {
    yield encodeBlockPrefix(cid, bytes.length)
    if (bytes.length > 0) yield bytes
  }
}
