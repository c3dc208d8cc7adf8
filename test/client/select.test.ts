// Which client a command gets (openClient, src/lib/client/index.ts; docs/cli.md
// "Where a command acts"), without a node: a unix socket that merely accepts
// stands in for a running node, since the choice is made on whether the
// socket answers. No client here sends a request or opens the store.
import assert from 'node:assert/strict'
import {existsSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:net'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {openClient} from '../../src/lib/client/index.js'
import {EmbeddedClient} from '../../src/lib/client/embedded.js'
import {LocalNodeClient} from '../../src/lib/client/local.js'
import {RemoteNodeClient} from '../../src/lib/client/remote.js'
import {tmpHome} from '../helpers.js'

/** A server listening on `path` that accepts and drops connections (what liveNodeSocket probes). */
function listen(path: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer((c) => c.destroy())
    s.once('error', reject)
    s.listen(path, () => resolve(s))
  })
}

describe('openClient chooses the target', () => {
  const live = tmpHome('polar-select-live-')
  const idle = tmpHome('polar-select-idle-')
  const stale = tmpHome('polar-select-stale-')
  let server: Server
  before(async () => {
    server = await listen(join(live.home, 'polar.sock'))
    writeFileSync(join(stale.home, 'polar.sock'), '') // a socket file left by a killed node: nothing answers
  })
  after(async () => {
    await new Promise((r) => server.close(r))
    for (const h of [live, idle, stale]) h.cleanup()
  })

  it('--node http(s)://… is the remote node at that URL\'s origin, whatever runs on the home', async () => {
    for (const [node, origin] of [
      ['http://127.0.0.1:7477', 'http://127.0.0.1:7477'],
      ['https://node.example:8443/some/path?q=1', 'https://node.example:8443'],
      ['HTTP://127.0.0.1:9', 'http://127.0.0.1:9'],
    ]) {
      const c = await openClient({home: live.home, node})
      assert.ok(c instanceof RemoteNodeClient, node)
      assert.equal(c.url, origin)
      assert.equal(c.notes.source, origin)
    }
  })

  it('a malformed --node URL is BAD_INPUT (exit 2)', async () => {
    for (const node of ['http://', 'https://[::1']) {
      await assert.rejects(openClient({home: idle.home, node}), (err: any) => err.name === 'InputError' && err.code === 'BAD_INPUT' && err.exit === 2 && /--node must be an http\(s\) URL/.test(err.message))
    }
  })

  it('--node with any other value is that path taken as a node\'s socket, even over a live home socket, and is not probed', async () => {
    const c = await openClient({home: live.home, node: '/nowhere/polar.sock'})
    assert.ok(c instanceof LocalNodeClient)
    assert.equal(c.socketPath, '/nowhere/polar.sock')
  })

  it('no --node: the home\'s socket when it answers', async () => {
    const c = await openClient({home: live.home})
    assert.ok(c instanceof LocalNodeClient)
    assert.equal(c.socketPath, join(live.home, 'polar.sock'))
    assert.equal(c.notes.source, 'local node')
  })

  it('no --node and no socket, or one nothing answers on: the embedded store, not opened until a method needs it', async () => {
    for (const h of [idle, stale]) {
      const c = await openClient({home: h.home})
      assert.ok(c instanceof EmbeddedClient)
      assert.equal(c.notes.source, `${h.home} (no node running)`)
      assert.equal(existsSync(join(h.home, 'polar.db')), false)
      await c.close()
    }
  })

  it('the embedded store opens on first use and close() closes it', async () => {
    const c = await openClient({home: idle.home})
    assert.deepEqual(await c.listPeers(), [])
    assert.equal(existsSync(join(idle.home, 'polar.db')), true)
    await c.close()
  })
})

describe('nat-test\'s targets (natTestTargets)', () => {
  it('a --node URL becomes a peer to ask and the home\'s node is tested; a socket path stays the node; peers reduce to their origin', async () => {
    const {natTestTargets} = await import('../../src/lib/client/common.js')
    assert.deepEqual(await natTestTargets('http://peer.example:7477/x', ['https://a.example/p']), {node: undefined, via: ['https://a.example', 'http://peer.example:7477']})
    assert.deepEqual(await natTestTargets('/run/polar.sock', []), {node: '/run/polar.sock', via: []})
    assert.deepEqual(await natTestTargets(undefined, []), {node: undefined, via: []})
    await assert.rejects(natTestTargets(undefined, ['peer.example:7477']), (err: any) => err.code === 'BAD_INPUT' && /--via must be a peer URL/.test(err.message))
  })
})
