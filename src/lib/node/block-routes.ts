import {CID} from 'multiformats/cid'
import {parseCid} from '../content/cid.js'
import {CODEC_RAW} from '../codec/constants.js'
import {encodeForPeer, parseOffer} from '../codec/transfer.js'
import {IntegrityError, NotFoundError} from '../errors.js'
import {readJson, type Router, sendJson, writeInPieces} from '../net/http.js'
import type {NodeContext} from './context.js'
import {checkBatchRequest, sendBlockBatch} from './block-batch.js'
import {CID_RE} from './protocol.js'

/** What the block routes use of the node. */
export type BlockRouteComponents = Pick<NodeContext, 'store' | 'log'>

/** The block routes (docs/protocol.md "Blocks"): has, one block, a batch, and the dynamic-mode encodings (issue 6). */
export function blockRoutes(router: Router, ctx: BlockRouteComponents): void {
  router.on('POST', /^\/v1\/blocks\/has$/, async (req, res) => {
    const {value} = await readJson(req, (v) => {
      if (!Array.isArray(v?.cids) || v.cids.length > 1024 || !v.cids.every((c: unknown) => typeof c === 'string')) throw new Error('expected {"cids": [string, …]} with at most 1024 CIDs')
      return v.cids as string[]
    })
    const have = value.map((c) => {
      try {
        return ctx.store.blocks.has(CID.parse(c))
      } catch {
        return false
      }
    })
    sendJson(res, 200, {have})
  })

  router.on('GET', new RegExp(`^/v1/blocks/${CID_RE}$`), async (req, res, [text]) => {
    const cid = parseCid(text)
    let bytes: Uint8Array
    try {
      bytes = await ctx.store.blocks.getAsync(cid) // through the thread pool: the event loop is not held by the disk (issue 15)
    } catch (err) {
      if (err instanceof IntegrityError) {
        ctx.log(`block ${cid} failed verification when a peer asked for it; not served`)
        throw new NotFoundError(`block ${cid} is damaged here`, {code: 'CORRUPT'})
      }
      throw err
    }
    res.writeHead(200, {'content-type': 'application/vnd.ipld.raw', 'content-length': bytes.length})
    if (req.method !== 'HEAD') writeInPieces(res, bytes) // in pieces: a slow reader is seen to progress (node/slow-clients.ts)
    res.end()
  })

  // Many blocks in one answer (frames): fewer round trips for bulk fetches.
  // Streamed block by block with back-pressure (block-batch.ts): an answer nobody reads holds about 1 MiB, not the batch.
  router.on('POST', /^\/v1\/blocks\/get$/, async (req, res) => {
    const {value: cids} = await readJson(req, checkBatchRequest)
    await sendBlockBatch(res, ctx.store.blocks, cids, (cid) => ctx.log(`block ${cid} failed verification when a peer asked for it; not served`))
  })

  // Dynamic block mode (issue 6, draft 003): which bases a block is encoded against here…
  router.on('POST', /^\/v1\/blocks\/bases$/, async (req, res) => {
    const {value} = await readJson(req, (v) => {
      if (!Array.isArray(v?.cids) || v.cids.length > 1024 || !v.cids.every((c: unknown) => typeof c === 'string')) throw new Error('expected {"cids": [string, …]} with at most 1024 CIDs')
      return v.cids as string[]
    })
    sendJson(res, 200, {bases: value.map((c) => {
      try {
        return ctx.store.blocks.codecs.basesOf(CID.parse(c)).map(String)
      } catch {
        return []
      }
    })})
  })

  // …and the block in the encoding that suits the asking peer: ?accept=gzip,delta,delta+gzip&have=BASE,…
  // Body: one codec byte, then the encoded block (codec 0: the raw bytes). src/lib/codec/transfer.ts.
  router.on('GET', new RegExp(`^/v1/blocks/${CID_RE}/encoded$`), (req, res, [text], url) => {
    const cid = parseCid(text)
    let out
    try {
      out = encodeForPeer(ctx.store.blocks, cid, parseOffer(url.searchParams.get('accept'), url.searchParams.get('have')))
    } catch (err) {
      if (err instanceof IntegrityError) {
        ctx.log(`block ${cid} failed verification when a peer asked for it; not served`)
        throw new NotFoundError(`block ${cid} is damaged here`, {code: 'CORRUPT'})
      }
      throw err
    }
    // A stored encoding starts with its codec byte already; raw bytes get codec byte 0 in front.
    const prefix = out.wire === 'raw' ? 1 : 0
    res.writeHead(200, {'content-type': 'application/vnd.polar.encoded-block', 'content-length': out.body.length + prefix, 'x-polar-codec': String(out.codec)})
    if (req.method === 'HEAD') return void res.end()
    if (prefix) res.write(Uint8Array.of(CODEC_RAW))
    res.end(out.body)
  })
}
