/**
 * Block codecs (Planet draft 003): raw, gzip, delta and delta+gzip. CIDs never
 * change — a block's CID is the hash of its decoded bytes — codecs only change
 * how blocks are stored and sent. Everything that decodes is bounded
 * (constants.ts) and verified after decoding.
 */
export * from './constants.js'
export {CodecError} from './errors.js'
export {gunzipBounded, gzip} from './gzip.js'
export {applyDelta, BaseIndex, encodeDelta, remapScript, scriptActions, SEED, STRIDE} from './delta.js'
export {decodeBlock, encodeDeltaBlock, encodeGzip, encodeRaw, parseEncoded, type BaseResolver, type EncodedHeader, type Encoding} from './block.js'
export {encodeBest, type BaseBlock, type Encoded} from './encoder.js'
