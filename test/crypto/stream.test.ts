import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {describe, it} from 'node:test'
import {CIPHER_CHUNK_SIZE, ChunkCipher, decryptStream, encryptStream, encryptedSize, newContentKey, PLAIN_CHUNK_SIZE, plaintextSize, TAG_SIZE} from '../../src/lib/crypto/index.js'
import {IntegrityError, InputError} from '../../src/lib/errors.js'

const P = PLAIN_CHUNK_SIZE
const C = CIPHER_CHUNK_SIZE

/** `data` in pieces of the given sizes, repeated (odd sizes cut across every chunk boundary). */
async function * piecesOf(data: Uint8Array, sizes = [65_536]): AsyncGenerator<Uint8Array> {
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = sizes[i % sizes.length]
    yield data.subarray(at, at + n)
    at += n
  }
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const p of source) parts.push(p)
  return Buffer.concat(parts)
}

async function chunksOf(key: Uint8Array, data: Uint8Array): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  for await (const c of encryptStream(key, piecesOf(data))) out.push(new Uint8Array(c))
  return out
}

const decrypt = (key: Uint8Array, chunks: Uint8Array[]) => collect(decryptStream(key, piecesOf(Buffer.concat(chunks), [C])))

describe('STREAM chunked AEAD: round trips', () => {
  const sizes: Array<[string, number]> = [
    ['0 bytes', 0], ['1 byte', 1], ['one chunk less a byte', P - 1], ['exactly one chunk', P], ['one chunk and a byte', P + 1],
    ['exactly two chunks', 2 * P], ['5 MiB and 3 bytes', 5 * 1024 * 1024 + 3],
  ]
  for (const [name, size] of sizes) {
    it(`${name} (${size}): every ciphertext chunk but the last is exactly 1 MiB; the bytes come back`, async () => {
      const key = newContentKey()
      const data = randomBytes(size)
      const chunks = await chunksOf(key, data)
      assert.equal(chunks.length, Math.max(1, Math.ceil(size / P)))
      for (const c of chunks.slice(0, -1)) assert.equal(c.length, C)
      assert.equal(chunks.at(-1)!.length, size - (chunks.length - 1) * P + TAG_SIZE)
      const total = chunks.reduce((n, c) => n + c.length, 0)
      assert.equal(total, encryptedSize(size))
      assert.equal(plaintextSize(total), size)
      // Pieces of any size on either side: 1-byte, odd and whole-chunk pieces.
      assert.ok((await collect(decryptStream(key, piecesOf(Buffer.concat(chunks), [1, 7, 65_537, C])))).equals(data))
      assert.ok((await collect(decryptStream(key, piecesOf(Buffer.concat(chunks), [C])))).equals(data))
      const odd = await collect(encryptStream(key, piecesOf(data, [3, P + 5, 1])))
      assert.ok(odd.equals(Buffer.concat(chunks)), 'the ciphertext does not depend on how the input is cut')
    })
  }

  it('each 1 MiB ciphertext chunk decrypts alone (random access, as a private object\'s leaves will)', async () => {
    const key = newContentKey()
    const data = randomBytes(3 * P + 100)
    const chunks = await chunksOf(key, data)
    const cipher = new ChunkCipher(key)
    for (let i = chunks.length - 1; i >= 0; i--) {
      assert.ok(cipher.decryptChunk(i, chunks[i], i === chunks.length - 1).equals(data.subarray(i * P, (i + 1) * P)))
    }
  })

  it('the content key alone decrypts: key and nonces are derived from it', async () => {
    const key = newContentKey()
    const data = randomBytes(1000)
    const chunks = await chunksOf(key, data)
    assert.ok((await decrypt(Uint8Array.from(key), chunks)).equals(data))
    assert.deepEqual(await chunksOf(key, data), chunks, 'same key, same data: same ciphertext (so a key must never encrypt two plaintexts)')
  })

  it('holds at most two chunks while streaming: pieces arrive lazily', async () => {
    const key = newContentKey()
    let pulled = 0
    async function * slow(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 8; i++) {
        pulled++
        yield randomBytes(P)
      }
    }
    const it = encryptStream(key, slow())[Symbol.asyncIterator]()
    await it.next()
    assert.ok(pulled <= 2, `read ${pulled} chunks ahead to yield the first`)
    await it.return(undefined)
  })
})

describe('STREAM chunked AEAD: tampering is refused', () => {
  const key = newContentKey()
  const data = randomBytes(3 * P + 1000) // 4 chunks: three full, one short
  let chunks: Uint8Array[]
  const refused = async (mutated: Uint8Array[], why: string, k = key) => {
    await assert.rejects(decrypt(k, mutated), (err: unknown) => err instanceof IntegrityError && err.exit === 4, why)
  }
  const flip = (c: Uint8Array, at: number) => { const d = Uint8Array.from(c); d[at] ^= 0x01; return d }

  it('set up', async () => { chunks = await chunksOf(key, data) })

  it('a flipped bit anywhere: first, middle and last byte of every chunk, and its tag', async () => {
    for (let i = 0; i < chunks.length; i++) {
      const c = chunks[i]
      for (const at of [0, c.length >> 1, c.length - TAG_SIZE - 1, c.length - TAG_SIZE, c.length - 1]) {
        const m = [...chunks]
        m[i] = flip(c, at)
        await refused(m, `chunk ${i} byte ${at}`)
      }
    }
  })

  it('cut at a chunk boundary (the last chunk dropped), and cut inside a chunk', async () => {
    await refused(chunks.slice(0, -1), 'last chunk dropped')
    await refused(chunks.slice(0, 1), 'only the first chunk')
    await refused([...chunks.slice(0, -1), chunks.at(-1)!.subarray(0, 100)], 'last chunk cut short')
    await refused([chunks[0].subarray(0, C - 1)], 'first chunk cut short')
    await refused([], 'nothing at all')
  })

  it('the last chunk dropped when every chunk is full', async () => {
    const full = await chunksOf(key, randomBytes(2 * P))
    assert.equal(full.at(-1)!.length, C)
    await refused(full.slice(0, -1), 'a full inner chunk cannot pass for the last')
  })

  it('chunks reordered or swapped', async () => {
    await refused([chunks[1], chunks[0], chunks[2], chunks[3]], 'first two swapped')
    await refused([chunks[0], chunks[2], chunks[1], chunks[3]], 'inner swapped')
    await refused([chunks[0], chunks[1], chunks[3]], 'an inner chunk dropped')
  })

  it('a chunk appended, or spliced in from another stream', async () => {
    await refused([...chunks, chunks[0]], 'a chunk appended')
    await refused([...chunks, chunks[3]], 'the last chunk repeated')
    await refused([...chunks, new Uint8Array(TAG_SIZE)], 'an empty chunk appended')
    // Another object's chunks (another key: every content key is fresh) do not fit anywhere.
    const other = await chunksOf(newContentKey(), randomBytes(5 * P + 7))
    await refused([...chunks.slice(0, 3), other[3], other[4], other[5]], 'extended with another stream\'s tail')
    await refused([...chunks.slice(0, 3), other[5]], 'another stream\'s last chunk')
  })

  it('the wrong key', async () => {
    await refused(chunks, 'another key', newContentKey())
  })

  it('an empty last chunk after full ones is not canonical, and never made', async () => {
    const cipher = new ChunkCipher(key)
    assert.throws(() => cipher.encryptChunk(1, new Uint8Array(0), true), InputError)
    assert.throws(() => cipher.encryptChunk(0, new Uint8Array(P - 1), false), InputError)
    assert.throws(() => cipher.encryptChunk(0, new Uint8Array(P + 1), true), InputError)
    assert.throws(() => cipher.decryptChunk(1, new Uint8Array(TAG_SIZE), true), IntegrityError)
    assert.throws(() => plaintextSize(C + TAG_SIZE), IntegrityError)
    assert.throws(() => plaintextSize(C + 5), IntegrityError)
    assert.throws(() => plaintextSize(5), IntegrityError)
  })

  it('a pre-aborted signal stops both directions', async () => {
    const signal = AbortSignal.abort()
    await assert.rejects(collect(encryptStream(key, piecesOf(data), {signal})), {name: 'AbortError'})
    await assert.rejects(collect(decryptStream(key, piecesOf(Buffer.concat(chunks)), {signal})), {name: 'AbortError'})
  })
})
