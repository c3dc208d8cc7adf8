/** The IPFS `unixfs-v1-2025` profile (IPIP-499, ipfs/specs#499). */
/** Fixed-size chunker: 1 MiB raw leaves. */
export const CHUNK_SIZE = 1_048_576
/** Balanced layout: at most 1024 links per dag-pb node. */
export const MAX_LINKS = 1024
/** No block polar stores, sends or accepts is larger (DESIGN.md "Content"). */
export const MAX_BLOCK_SIZE = 2 * 1024 * 1024
/** Multicodec codes (multiformats/multicodec table.csv). */
export const RAW_CODE = 0x55
export const DAG_PB_CODE = 0x70
export const DAG_CBOR_CODE = 0x71
export const SHA2_256_CODE = 0x12
/** A DAG deeper than this is hostile: 1024^6 MiB is far beyond any real file. */
export const MAX_DAG_DEPTH = 8
