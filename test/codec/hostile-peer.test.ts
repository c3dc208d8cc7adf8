// A peer in dynamic block mode that sends a bomb or a forged delta (issue 6,
// "Bombs and hostile blocks"): the block is refused quickly, nothing is
// stored, and the peer is counted as misbehaving.
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {after, describe, it} from 'node:test'
import {gzipSync} from 'node:zlib'
import type {CID} from 'multiformats/cid'
import {CODEC_DELTA, CODEC_GZIP} from '../../src/lib/codec/index.js'
import {ByteWriter} from '../../src/lib/codec/varint.js'
import {cidOf} from '../../src/lib/content/cid.js'
import {RAW_CODE} from '../../src/lib/content/constants.js'
import {DynamicBlockSource} from '../../src/lib/node/dynamic-source.js'
import {PeerTable} from '../../src/lib/node/peer-table.js'
import {openStore} from '../../src/lib/store/store.js'
import {tmpHome} from '../helpers.js'

const MiB = 1024 * 1024
const DID = 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK'

function encoded(codec: number, length: number, bases: CID[], body: Uint8Array): Uint8Array {
  const w = new ByteWriter()
  w.byte(codec); w.uint(length)
  if (codec === CODEC_DELTA) {
    w.uint(bases.length)
    for (const b of bases) { w.uint(b.bytes.length); w.bytes(b.bytes) }
  }
  w.bytes(body)
  return w.result()
}

describe('hostile peers in dynamic block mode', () => {
  const {home, cleanup} = tmpHome('polar-hostile-')
  const store = openStore(home)
  after(() => { store.close(); cleanup() })

  it('refuses bombs and forged deltas, stores nothing, counts the peer', async () => {
    const base = randomBytes(MiB)
    const baseCid = cidOf(RAW_CODE, base)
    const w0 = store.blocks.writer()
    await w0.put(baseCid, base)
    await w0.close()
    const target = Buffer.concat([base.subarray(0, MiB - 10), Buffer.from('0123456789')])
    const cid = cidOf(RAW_CODE, target)
    const selfCopy = new ByteWriter()
    for (let i = 0; i < 3; i++) { selfCopy.uint(MiB * 2 + 1); selfCopy.uint(0); selfCopy.uint(0) }
    const bombs: Uint8Array[] = [
      encoded(CODEC_GZIP, MiB, [], gzipSync(new Uint8Array(64 * MiB), {level: 1})), // lying length, ~64:1 per MiB declared
      encoded(CODEC_GZIP, MiB, [], gzipSync(new Uint8Array(MiB))), // 1000:1
      encoded(CODEC_DELTA, MiB, [cid], selfCopy.result()), // names itself
      encoded(CODEC_DELTA, MiB, [baseCid], selfCopy.result()), // copies past its length
      encoded(CODEC_DELTA, MiB, [cidOf(RAW_CODE, Buffer.from('absent'))], selfCopy.result()), // missing base
      randomBytes(5000),
    ]
    const peers = new PeerTable(store.db, 'did:key:self')
    peers.upsert(DID, 'http://127.0.0.1:9', null)
    for (const bomb of bombs) {
      const client = {blocks: {
        bases: async (cids: CID[]) => cids.map(() => [baseCid.toString()]),
        getEncoded: async () => bomb,
        get: async () => { throw new Error('the raw path should not be used here') },
      }}
      const writer = store.blocks.writer()
      const source = new DynamicBlockSource(store, [{did: DID, client: client as any}], writer, peers)
      source.onLinks([cid])
      const t = performance.now()
      peers.upsert(DID, 'http://127.0.0.1:9', null)
      const before = peers.get(DID)!.badBlocks
      // Every peer failed: the read fails (not found / integrity) — never a crash, never the bomb's bytes.
      await assert.rejects(source.get(cid), (e: Error) => [3, 4].includes((e as any).exit))
      const now = peers.get(DID)
      assert.ok(now === undefined || now.badBlocks === before + 1, 'the peer is counted as misbehaving (or dropped)')
      assert.ok(performance.now() - t < 1000)
      await writer.close()
      assert.equal(store.blocks.has(cid), false)
    }
  })
})
