import {IntegrityError, type PolarErrorOptions} from '../errors.js'

/**
 * Why an encoded block was refused (draft 003, "Denial of service"). The
 * error's `code` stays BAD_ENCODING for every one of them (what the CLI and
 * peers see); `reason` tells the refusals apart for callers and tests, never
 * the message text.
 */
export type CodecRefusal =
  /** Truncated, an unknown codec, a bad number, a base that is not a CID, gzip that does not inflate. */
  | 'MALFORMED'
  /** Declares more decoded bytes than a block may hold (MAX_DECODED_SIZE). */
  | 'TOO_LARGE'
  /** Would inflate past MAX_INFLATE_RATIO, inflates past its declared length, or a script longer than its block. */
  | 'BOMB'
  /** A delta action that would write past the declared length. */
  | 'PAST_LENGTH'
  /** Decodes to fewer bytes than it declares. */
  | 'SHORT'
  /** A delta copy outside its base, or from a base it does not name. */
  | 'OUTSIDE_BASE'
  /** A delta that names itself as its base. */
  | 'SELF_BASE'
  /** A delta on a base chain deeper than MAX_DELTA_DEPTH. */
  | 'TOO_DEEP'
  /** A delta whose base this store does not hold. */
  | 'MISSING_BASE'
  /** Decodes, but not to bytes that hash to its CID. */
  | 'WRONG_HASH'

/**
 * An encoded block that is malformed, hostile (a bomb, a copy outside its
 * base, a chain too deep) or that names a base this store lacks. Exit 4, like
 * any block that does not verify; a peer that sent it is counted as misbehaving.
 */
export class CodecError extends IntegrityError {
  override name = 'CodecError'
  constructor(readonly reason: CodecRefusal, message: string, options: PolarErrorOptions = {}) {
    super(message, {code: 'BAD_ENCODING', ...options})
  }
}
