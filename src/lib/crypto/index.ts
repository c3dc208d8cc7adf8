/**
 * Cryptography on polar's identities (issues 16 and 18; docs/protocol.md
 * "Envelope and sealed data" has every byte):
 *
 * - Envelopes, `polar encrypt` / `polar decrypt` (envelope.ts): a header that
 *   wraps a fresh content key for each recipient did with X25519 derived
 *   from their ed25519 identity (header.ts, x25519.ts), then the data under
 *   STREAM chunked AEAD (stream.ts). Streams in and out; never buffers whole.
 * - The pieces a private object (issue 18) is built from: `newContentKey`,
 *   `encodeHeader` / `openHeader` (its record carries the header),
 *   `encryptStream` / `decryptStream` and `ChunkCipher` for random access
 *   (ciphertext chunks are exactly the 1 MiB raw leaves), `encryptedSize` /
 *   `plaintextSize`, and `seal` / `unseal` for the record's name, media
 *   type and tags. The content key alone decrypts (a `CID#KEY` capability).
 * - Signatures over any data for services (sign.ts): `signData` /
 *   `verifyData`, domain-separated from records and requests.
 *
 * Errors: InputError (exit 2) for bad dids, signatures, keys and sizes;
 * IntegrityError (exit 4) for anything that does not verify, with code
 * NOT_A_RECIPIENT when no local key opens an envelope.
 *
 * Loading: sign.ts needs no curve library; x25519.ts loads @noble/curves
 * (for the Edwards-to-Montgomery map). Commands import the file they need.
 */
export {CIPHER_CHUNK_SIZE, PLAIN_CHUNK_SIZE, KEY_SIZE, TAG_SIZE, MAX_RECIPIENTS, VERSION} from './constants.js'
export {ChunkCipher, encryptStream, decryptStream, encryptedSize, plaintextSize, type StreamOptions} from './stream.js'
export {newContentKey, encodeHeader, openHeader, headerSize, headerSizeFrom, recipientCount, checkRecipients, type OpenedHeader} from './header.js'
export {encryptEnvelope, decryptEnvelope, type Envelope, type OpenedEnvelope} from './envelope.js'
export {seal, unseal} from './seal.js'
export {signData, verifyData, digestOf, signingMessage, parseSignature, formatSignature, type Data, type SignOptions} from './sign.js'
export {recipientKeyOfDid} from './x25519.js'
