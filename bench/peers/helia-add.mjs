#!/usr/bin/env node
// Peer for the "push" row: Helia's add path as a whole process.
// Usage: node bench/peers/helia-add.mjs FILE BLOCKSTORE_DIR
// Streams FILE through ipfs-unixfs-importer with the IPIP-499 `unixfs-v1-2025`
// profile into an FsBlockstore (blockstore-fs) at BLOCKSTORE_DIR, then prints
// the root CID on one line — the same output as `polar push FILE -q`.
// Note: blockstore-fs writes each block to a temp file and renames it; it
// does not fsync (polar does).
import {createReadStream} from 'node:fs'
import {importByteStream} from 'ipfs-unixfs-importer'
import {FsBlockstore} from 'blockstore-fs'

const [file, dir] = process.argv.slice(2)
if (!file || !dir) {
  process.stderr.write('usage: helia-add.mjs FILE BLOCKSTORE_DIR\n')
  process.exit(2)
}

const blockstore = new FsBlockstore(dir, {createIfMissing: true})
await blockstore.open()
const entry = await importByteStream(createReadStream(file), blockstore, {profile: 'unixfs-v1-2025'})
await blockstore.close()
process.stdout.write(`${entry.cid.toString()}\n`)
