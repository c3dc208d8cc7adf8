import {IntegrityError, type PolarErrorOptions} from '../errors.js'

/**
 * An encoded block that is malformed, hostile (a bomb, a copy outside its
 * base, a chain too deep) or that names a base this store lacks. Exit 4, like
 * any block that does not verify; a peer that sent it is counted as misbehaving.
 */
export class CodecError extends IntegrityError {
  override name = 'CodecError'
  constructor(message: string, options: PolarErrorOptions = {}) {
    super(message, {code: 'BAD_ENCODING', ...options})
  }
}
