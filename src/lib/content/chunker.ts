import {CHUNK_SIZE} from './constants.js'

/**
 * Fixed-size chunker: yields chunks of exactly `size` bytes, the last one
 * shorter, and one empty chunk for empty input (an empty file is the empty
 * raw block, as the IPFS importer makes it). Holds at most one chunk.
 */
export async function * fixedSizeChunks(source: AsyncIterable<Uint8Array>, size = CHUNK_SIZE): AsyncGenerator<Uint8Array> {
  let buf: Uint8Array | undefined
  let fill = 0
  let emitted = false
  for await (const piece of source) {
    let data = piece instanceof Uint8Array ? piece : new Uint8Array(piece as ArrayBufferLike)
    while (data.length > 0) {
      if (fill === 0 && data.length >= size) {
        // Aligned input (file reads of CHUNK_SIZE): hand the bytes on without a copy.
        yield data.subarray(0, size)
        emitted = true
        data = data.subarray(size)
        continue
      }
      buf ??= new Uint8Array(size)
      const n = Math.min(size - fill, data.length)
      buf.set(data.subarray(0, n), fill)
      fill += n
      data = data.subarray(n)
      if (fill === size) {
        yield buf
        emitted = true
        buf = undefined
        fill = 0
      }
    }
  }
  if (fill > 0 || !emitted) yield (buf ?? new Uint8Array(0)).subarray(0, fill)
}
