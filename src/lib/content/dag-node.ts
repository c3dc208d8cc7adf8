import * as dagPb from '@ipld/dag-pb'
import {UnixFS} from 'ipfs-unixfs'
import type {CID} from 'multiformats/cid'
import {InputError, IntegrityError} from '../errors.js'

/** What the reader needs from a dag-pb UnixFS file node. Loaded lazily: raw-leaf pulls never pay for it. */
export interface FileNode {
  /** Inline file data of this node (non-raw leaves of older DAGs). */
  data?: Uint8Array
  links: CID[]
  /** Bytes of file data under each link (UnixFS blocksizes). */
  blockSizes: number[]
  fileSize: number
}

export function decodeFileNode(cid: CID, bytes: Uint8Array): FileNode {
  let node: dagPb.PBNode
  let unixfs: UnixFS
  try {
    node = dagPb.decode(bytes)
    if (node.Data === undefined) throw new Error('no UnixFS data')
    unixfs = UnixFS.unmarshal(node.Data)
  } catch (err) {
    throw new IntegrityError(`block ${cid} is not a valid dag-pb UnixFS node: ${(err as Error).message}`)
  }
  if (unixfs.type !== 'file' && unixfs.type !== 'raw') {
    throw new InputError(`${cid} is a UnixFS ${unixfs.type}, not a file; polar pull fetches files`)
  }
  if (unixfs.blockSizes.length !== node.Links.length) {
    throw new IntegrityError(`block ${cid}: ${node.Links.length} links but ${unixfs.blockSizes.length} block sizes`)
  }
  return {
    data: unixfs.data && unixfs.data.length > 0 ? unixfs.data : undefined,
    links: node.Links.map((l) => l.Hash),
    blockSizes: unixfs.blockSizes.map(Number),
    fileSize: Number(unixfs.fileSize()),
  }
}
