/** Content: files and streams as UnixFS DAGs (IPIP-499 unixfs-v1-2025), and back. */
export * from './constants.js'
export {CID, cidOf, parseCid, sha256, verifyBlock, blockMatches, assertSupportedCid} from './cid.js'
export {fixedSizeChunks} from './chunker.js'
export {readFile, type BlockSource, type ReadOptions} from './reader.js'
export type {BlockSink, BuildOptions, BuildResult, BuildProgress} from './builder.js'

/** Builds a file DAG; the builder (and dag-pb) load on first use so that pulls start fast. */
export async function buildFile(...args: Parameters<typeof import('./builder.js').buildFile>): ReturnType<typeof import('./builder.js').buildFile> {
  const {buildFile: build} = await import('./builder.js')
  return build(...args)
}
