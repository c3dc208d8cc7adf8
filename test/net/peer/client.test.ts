// PeerClient against plain HTTP servers playing a peer: a request allowed
// longer than the client's default time-out gets it (undici's pool-wide
// header time-out would cut it short), and a batch that goes wrong gives back
// the memory of every block it had been handed.
import assert from 'node:assert/strict'
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import {after, describe, it} from 'node:test'
import {cidOf} from '../../../src/lib/content/cid.js'
import {RAW_CODE} from '../../../src/lib/content/constants.js'
import {IntegrityError, NetworkError} from '../../../src/lib/errors.js'
import {PeerClient} from '../../../src/lib/net/peer/index.js'
import {encodeFrames} from '../../../src/lib/net/frames.js'

const servers: Server[] = []
after(() => { for (const s of servers) s.close() })

function serve(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<string> {
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => handler(req, res, body))
  })
  servers.push(server)
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as {port: number}).port}`)))
}

const block = (i: number) => {
  const bytes = Buffer.alloc(1000 + i, i)
  return {cid: cidOf(RAW_CODE, bytes), bytes}
}

describe('PeerClient', () => {
  it('a request gets its own time-out, longer than the client default', async () => {
    const url = await serve((_q, res) => setTimeout(() => {
      res.writeHead(200, {'content-type': 'application/json'})
      res.end(JSON.stringify({held: true, blocks: 3, did: 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK'}))
    }, 2500))
    const client = new PeerClient(url, {connections: 2, timeoutMs: 300})
    try {
      // replicate() allows 10 minutes: the answer after 2.5 s arrives (undici checks its time-outs about once a second).
      assert.deepEqual(await client.objects.replicate(new Uint8Array(4), []), {held: true, blocks: 3, did: 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK'})
      // The default (0.3 s here) still applies where a request names none.
      await assert.rejects(client.discovery.peers(), NetworkError)
    } finally {
      await client.close()
    }
  })

  for (const [what, frames, status] of [
    ['a block that was not asked for', [block(1), block(9)], 'asked'],
    ['a block sent twice', [block(1), block(1)], 'asked'],
    ['an answer cut short', [block(1), block(2)], 'cut'],
  ] as const) {
    it(`a batch with ${what} fails and gives back every block's memory`, async () => {
      const url = await serve((_q, res) => {
        const body = Buffer.from(encodeFrames(frames as any))
        res.writeHead(200, {'content-type': 'application/vnd.polar.blocks', 'content-length': body.length + (status === 'cut' ? 100 : 0)})
        if (status === 'cut') {
          res.write(body)
          setTimeout(() => res.socket?.destroy(), 20)
        } else res.end(body)
      })
      const client = new PeerClient(url)
      const handed: Buffer[] = []
      const returned = new Set<Buffer>()
      try {
        await assert.rejects(
          client.blocks.getManyUnverified([block(1).cid, block(2).cid], {alloc: (n) => { const b = Buffer.alloc(n); handed.push(b); return b }, discard: (b) => returned.add(b)}),
          status === 'cut' ? NetworkError : (e: unknown) => e instanceof IntegrityError && /not asked for \(or sent it twice\)/.test((e as Error).message),
        )
        assert.ok(handed.length >= 1, 'blocks were handed memory')
        assert.deepEqual(handed.filter((b) => !returned.has(b)), [], 'every block handed memory gave it back')
      } finally {
        await client.close()
      }
    })
  }
})
