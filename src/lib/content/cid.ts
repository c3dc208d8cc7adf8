import {createHash} from 'node:crypto'
import {CID} from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import {InputError, IntegrityError} from '../errors.js'
import {DAG_CBOR_CODE, DAG_PB_CODE, MAX_BLOCK_SIZE, RAW_CODE, SHA2_256_CODE} from './constants.js'

export {CID}

/** sha2-256 with node's native implementation (much faster than a JS one for bulk data). */
export function sha256(bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest()
}

/** The CIDv1 of a block of the given codec, hashed with sha2-256. */
export function cidOf(code: number, bytes: Uint8Array): CID {
  return CID.createV1(code, Digest.create(SHA2_256_CODE, sha256(bytes)))
}

/** What a CID looks like, for messages (the multibase library's own text names decoders, not CIDs). */
const CID_SHAPE = 'a CID looks like bafybei… or bafkrei… (CIDv1 in base32, 59 characters) or Qm… (CIDv0, 46 characters), as `polar push` prints it'

/** Parses a CID given by a user or a peer; exit 2 with a message that says what a CID looks like. */
export function parseCid(text: string): CID {
  if (typeof text !== 'string' || text.length === 0 || text.length > 200) throw malformed(String(text))
  try {
    return CID.parse(text.trim())
  } catch {
    throw malformed(text)
  }
}

function malformed(text: string): InputError {
  const shown = text.length > 80 ? JSON.stringify(text.slice(0, 80)) + '…' : JSON.stringify(text)
  // A CID cut short in a copy-paste is the usual mistake: say so.
  const short = /^(baf[a-z2-7]*|Qm[1-9A-HJ-NP-Za-km-z]*)$/.test(text) && text.length < (text.startsWith('Qm') ? 46 : 59) ? `; this one has ${text.length} characters: cut short?` : ''
  return new InputError(`not a CID: ${shown}; ${CID_SHAPE}${short}`)
}

/** Checks that a CID is one polar can verify: sha2-256 over raw, dag-pb or dag-cbor. */
export function assertSupportedCid(cid: CID): void {
  if (cid.multihash.code !== SHA2_256_CODE) {
    throw new InputError(`CID ${cid} uses hash 0x${cid.multihash.code.toString(16)}; polar verifies sha2-256 only`)
  }
  if (cid.code !== RAW_CODE && cid.code !== DAG_PB_CODE && cid.code !== DAG_CBOR_CODE) {
    throw new InputError(`CID ${cid} has codec 0x${cid.code.toString(16)}; polar handles raw, dag-pb and dag-cbor`)
  }
}

/** True when `bytes` hash to the digest in `cid`. */
export function blockMatches(cid: CID, bytes: Uint8Array): boolean {
  if (cid.multihash.code !== SHA2_256_CODE) return false
  const want = cid.multihash.digest
  const got = sha256(bytes)
  return Buffer.compare(got, want) === 0
}

/** Throws IntegrityError unless `bytes` are the block `cid` names and within the size cap. */
export function verifyBlock(cid: CID, bytes: Uint8Array, where = 'block'): Uint8Array {
  if (bytes.length > MAX_BLOCK_SIZE) throw new IntegrityError(`${where} ${cid} is ${bytes.length} bytes, over the ${MAX_BLOCK_SIZE}-byte block limit`)
  if (!blockMatches(cid, bytes)) throw new IntegrityError(`${where} ${cid} does not hash to its CID (corrupt or forged data)`)
  return bytes
}
