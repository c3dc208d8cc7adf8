import {fixedSizeChunks} from '../content/chunker.js'
import {IntegrityError, InputError} from '../errors.js'
import {aeadOpen, aeadSeal, hkdf} from './aead.js'
import {CIPHER_CHUNK_SIZE, KEY_SIZE, LABEL, MAX_CHUNKS, NONCE_PREFIX_SIZE, NONCE_SIZE, PLAIN_CHUNK_SIZE, TAG_SIZE} from './constants.js'

/**
 * STREAM (Hoang, Reyhanitabar, Rogaway, Vizár, CRYPTO 2015), as age's payload
 * and Tink's streaming AEAD use it: the plaintext is cut into chunks of
 * PLAIN_CHUNK_SIZE, chunk i is sealed under nonce = prefix ‖ i ‖ last-flag,
 * so a chunk decrypts only at its own position and only the real last chunk
 * carries the flag. Reordered, swapped, dropped, appended chunks and a stream
 * cut at a chunk boundary all fail to authenticate.
 *
 * Key and nonce prefix are both derived from the content key, so the key
 * alone (a read capability `CID#KEY`, issue 18) decrypts. The price: a
 * content key must encrypt ONE plaintext, ever. polar draws a fresh random
 * key for every envelope and private object (newContentKey).
 *
 * Canonical form (as age's): every chunk but the last is full; the last holds
 * 1..PLAIN_CHUNK_SIZE bytes, and is empty only when the whole plaintext is.
 */
export class ChunkCipher {
  private readonly key: Uint8Array
  private readonly prefix: Uint8Array

  constructor(contentKey: Uint8Array) {
    if (!(contentKey instanceof Uint8Array) || contentKey.length !== KEY_SIZE) throw new InputError(`a content key is ${KEY_SIZE} bytes`, {code: 'BAD_KEY'})
    this.key = hkdf(contentKey, LABEL.streamKey, KEY_SIZE)
    this.prefix = hkdf(contentKey, LABEL.streamNonce, NONCE_PREFIX_SIZE)
  }

  nonce(index: number, last: boolean): Uint8Array {
    if (!Number.isSafeInteger(index) || index < 0 || index >= MAX_CHUNKS) throw new InputError(`chunk index ${index} is out of range (0..2^32-1)`)
    const nonce = new Uint8Array(NONCE_SIZE)
    nonce.set(this.prefix, 0)
    new DataView(nonce.buffer).setUint32(NONCE_PREFIX_SIZE, index)
    nonce[NONCE_SIZE - 1] = last ? 1 : 0
    return nonce
  }

  /** Chunk `index` sealed: exactly CIPHER_CHUNK_SIZE bytes unless `last`. */
  encryptChunk(index: number, plaintext: Uint8Array, last: boolean): Buffer {
    if (last ? plaintext.length > PLAIN_CHUNK_SIZE || (plaintext.length === 0 && index > 0) : plaintext.length !== PLAIN_CHUNK_SIZE) {
      throw new InputError(`chunk ${index}: ${plaintext.length} bytes is not a valid ${last ? 'last' : 'inner'} chunk (inner chunks are ${PLAIN_CHUNK_SIZE} bytes; the last 1..${PLAIN_CHUNK_SIZE}, empty only for empty data)`)
    }
    return aeadSeal(this.key, this.nonce(index, last), plaintext)
  }

  /**
   * The plaintext of ciphertext chunk `index`; `last` says whether it is the
   * final chunk (the caller knows from the total size or the end of input).
   * IntegrityError when it does not authenticate at that position.
   */
  decryptChunk(index: number, ciphertext: Uint8Array, last: boolean): Buffer {
    const ok = last ? ciphertext.length >= TAG_SIZE && ciphertext.length <= CIPHER_CHUNK_SIZE && (ciphertext.length > TAG_SIZE || index === 0) : ciphertext.length === CIPHER_CHUNK_SIZE
    const plain = ok ? aeadOpen(this.key, this.nonce(index, last), ciphertext) : undefined
    if (!plain) {
      throw new IntegrityError(last
        ? `encrypted data does not verify at its end (chunk ${index}, ${ciphertext.length} bytes): it was cut short, extended, reordered or altered, or this is the wrong key`
        : `encrypted data does not verify at chunk ${index}: it was altered, reordered or truncated, or this is the wrong key`)
    }
    return plain
  }
}

/** The size of the STREAM ciphertext of `plainSize` bytes. */
export function encryptedSize(plainSize: number): number {
  if (!Number.isSafeInteger(plainSize) || plainSize < 0) throw new InputError(`bad plaintext size ${plainSize}`)
  const chunks = Math.max(1, Math.ceil(plainSize / PLAIN_CHUNK_SIZE))
  return plainSize + chunks * TAG_SIZE
}

/** The plaintext size behind `cipherSize` bytes of STREAM ciphertext; IntegrityError when no plaintext gives that size. */
export function plaintextSize(cipherSize: number): number {
  if (!Number.isSafeInteger(cipherSize) || cipherSize < TAG_SIZE) throw new IntegrityError(`${cipherSize} bytes cannot be STREAM ciphertext (at least ${TAG_SIZE})`)
  const chunks = Math.ceil(cipherSize / CIPHER_CHUNK_SIZE)
  const last = cipherSize - (chunks - 1) * CIPHER_CHUNK_SIZE
  if (last < TAG_SIZE || (chunks > 1 && last === TAG_SIZE)) throw new IntegrityError(`${cipherSize} bytes cannot be STREAM ciphertext (its last chunk would be ${last} bytes)`)
  return cipherSize - chunks * TAG_SIZE
}

export interface StreamOptions {
  signal?: AbortSignal
}

/**
 * Encrypts `source` with `contentKey`: yields ciphertext chunks of exactly
 * CIPHER_CHUNK_SIZE bytes, the last one shorter. Holds two plaintext chunks
 * at most (one read ahead, to know which chunk is the last); a chunk taken
 * from the source must stay unchanged until the next one is asked for.
 */
export async function * encryptStream(contentKey: Uint8Array, source: AsyncIterable<Uint8Array>, options: StreamOptions = {}): AsyncGenerator<Uint8Array> {
  const cipher = new ChunkCipher(contentKey)
  let index = 0
  let pending: Uint8Array | undefined
  for await (const chunk of fixedSizeChunks(source, PLAIN_CHUNK_SIZE)) {
    options.signal?.throwIfAborted()
    if (pending) yield cipher.encryptChunk(index++, pending, false)
    pending = chunk
  }
  // fixedSizeChunks yields one empty chunk for empty input: the empty plaintext's one last chunk.
  yield cipher.encryptChunk(index, pending!, true)
}

/**
 * Decrypts STREAM ciphertext cut anywhere into pieces; yields each chunk's
 * plaintext only once it has authenticated. When a chunk fails, the chunks
 * before it have been yielded (as age does): a caller that must not expose a
 * partial plaintext writes to a temporary file and renames at the end
 * (util/atomic-output.ts). Pieces that are whole chunks are not copied.
 */
export async function * decryptStream(contentKey: Uint8Array, source: AsyncIterable<Uint8Array>, options: StreamOptions = {}): AsyncGenerator<Uint8Array> {
  const cipher = new ChunkCipher(contentKey)
  let index = 0
  // A full chunk is the last one only if the input ends right after it: it waits in `pending` until more bytes or the end arrive.
  let pending: Uint8Array | undefined
  let buf: Uint8Array | undefined
  let fill = 0
  for await (const piece of source) {
    let data = piece
    while (data.length > 0) {
      options.signal?.throwIfAborted()
      if (pending) {
        yield cipher.decryptChunk(index++, pending, false)
        pending = undefined
      }
      if (fill === 0 && data.length >= CIPHER_CHUNK_SIZE) {
        pending = data.subarray(0, CIPHER_CHUNK_SIZE)
        data = data.subarray(CIPHER_CHUNK_SIZE)
        continue
      }
      buf ??= new Uint8Array(CIPHER_CHUNK_SIZE)
      const n = Math.min(CIPHER_CHUNK_SIZE - fill, data.length)
      buf.set(data.subarray(0, n), fill)
      fill += n
      data = data.subarray(n)
      if (fill === CIPHER_CHUNK_SIZE) {
        pending = buf
        buf = undefined
        fill = 0
      }
    }
  }
  if (pending) yield cipher.decryptChunk(index, pending, true)
  else yield cipher.decryptChunk(index, (buf ?? new Uint8Array(0)).subarray(0, fill), true)
}
