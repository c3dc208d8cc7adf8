// `polar pull CID --node URL` verifies every block here, whatever the remote
// sends: a remote that serves wrong bytes (a broken or hostile node, or
// something in between) gets exit 4 and no output file, never wrong bytes.
// The remote here is a plain HTTP server playing a polar node's block route.
import assert from 'node:assert/strict'
import {createHash} from 'node:crypto'
import {existsSync, readdirSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import type {CID} from 'multiformats/cid'
import {dagOf, MiB, prng} from '../content/oracle.js'
import {json, runPolar, tmpHome} from '../helpers.js'

describe('pull --node from a remote that serves wrong bytes', {timeout: 60_000}, () => {
  const {home, cleanup} = tmpHome('polar-remote-pull-')
  const data = prng(3 * MiB + 777, 21)
  let blocks = new Map<string, Uint8Array>()
  let root: CID
  let leaves: string[] = []
  /** Blocks the fake remote sends with one byte flipped. */
  const corrupt = new Set<string>()
  let server: Server
  let url = ''

  before(async () => {
    ;({root, blocks} = await dagOf(data))
    leaves = [...blocks.keys()].filter((k) => k !== root.toString())
    assert.ok(leaves.length >= 4)
    server = createServer((req, res) => {
      const m = /^\/v1\/blocks\/([a-z0-9]+)$/.exec(req.url ?? '')
      const bytes = m ? blocks.get(m[1]) : undefined
      if (!bytes) {
        res.writeHead(404, {'content-type': 'application/json'})
        return res.end(JSON.stringify({error: {code: 'NOT_FOUND', message: 'no such block'}}))
      }
      const out = Buffer.from(bytes)
      if (corrupt.has(m![1])) out[out.length >> 1] ^= 0x40
      res.writeHead(200, {'content-type': 'application/vnd.ipld.raw', 'content-length': out.length})
      res.end(out)
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    url = `http://127.0.0.1:${(server.address() as {port: number}).port}`
  })
  after(() => {
    server.close()
    cleanup()
  })

  it('pulls the object when every block is right (the fake remote is a fair stand-in)', async () => {
    corrupt.clear()
    const r = await runPolar(['pull', root.toString(), '--node', url], {home})
    assert.equal(r.code, 0, r.stderr)
    assert.equal(createHash('sha256').update(r.stdout).digest('hex'), createHash('sha256').update(data).digest('hex'))
  })

  for (const which of ['root', 'leaf'] as const) {
    it(`a wrong ${which} block: exit 4 (INTEGRITY) and no output file`, async () => {
      corrupt.clear()
      corrupt.add(which === 'root' ? root.toString() : leaves[2])
      const out = join(home, `out-${which}.bin`)
      const r = await runPolar(['pull', root.toString(), '--node', url, '-o', out, '--json'], {home})
      assert.equal(r.code, 4, r.stderr + r.stdout)
      assert.equal(json(r).error.code, 'INTEGRITY')
      assert.equal(existsSync(out), false, 'no output file')
      assert.deepEqual(readdirSync(home).filter((f) => f.includes(`out-${which}`)), [], 'no temporary file left behind')
    })
  }
})
