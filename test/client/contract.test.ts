// One contract, three clients (src/lib/client): the embedded store on a real
// temp home, the local node over its socket and a remote node over HTTP, both
// real `polar serve` processes from node/cluster.ts. The same cases run
// against each; where a target differs by design (what needs a node), the
// table below says so and the case checks that too.
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {PassThrough} from 'node:stream'
import {after, before, describe, it} from 'node:test'
import {openClient, type PolarClient} from '../../src/lib/client/index.js'
import {EmbeddedClient} from '../../src/lib/client/embedded.js'
import {LocalNodeClient} from '../../src/lib/client/local.js'
import {RemoteNodeClient} from '../../src/lib/client/remote.js'
import {KeyStore} from '../../src/lib/identity/index.js'
import {tmpHome} from '../helpers.js'
import {Cluster, type NodeProcess} from '../node/cluster.js'

/** A CID no node holds (sha2-256 of 32 random bytes, raw codec). */
const ABSENT = 'bafkreie7q3iidccmpvszul7kudcvvuavuo7u6gzlbobczuk34ygmabfbxm'
const UNREACHABLE = 'http://127.0.0.1:1'

interface Target {
  name: string
  /** The client under test, and the home whose keys it signs with. */
  open(): Promise<{client: PolarClient; home: string}>
  /** True when the target is a node of ours (peers add/rm/ping, nat-test work). */
  operated: boolean
}

const cluster = new Cluster()
let localNode: NodeProcess
let remoteNode: NodeProcess
let peerNode: NodeProcess
const embeddedHome = tmpHome('polar-client-')
const scratch = tmpHome('polar-client-files-')
let files = 0

before(async () => {
  ;[localNode, remoteNode, peerNode] = await cluster.startMany(3)
})
after(async () => {
  await cluster.stop()
  embeddedHome.cleanup()
  scratch.cleanup()
})

const targets: Target[] = [
  {name: 'embedded', operated: false, open: async () => ({client: new EmbeddedClient({home: embeddedHome.home}), home: embeddedHome.home})},
  // The local client signs with the CLI's home; here that is the node's own (its owner key), as `polar` on that home would.
  {name: 'local', operated: true, open: async () => ({client: new LocalNodeClient(localNode.socket, {home: localNode.home}), home: localNode.home})},
  // The remote node takes writes from its owner without a stamp: the client uses the node's home for its keys.
  {name: 'remote', operated: false, open: async () => ({client: new RemoteNodeClient(remoteNode.url, {home: remoteNode.home}), home: remoteNode.home})},
]

/** A file named `name` holding `bytes`, in a directory of its own. */
function fileWith(bytes: Uint8Array, name: string): string {
  const dir = join(scratch.home, String(files++))
  mkdirSync(dir)
  const path = join(dir, name)
  writeFileSync(path, bytes)
  return path
}

for (const t of targets) {
  describe(`${t.name} client: the PolarClient contract`, {timeout: 120_000}, () => {
    let client: PolarClient
    let home: string
    before(async () => {
      ;({client, home} = await t.open())
    })
    after(() => client.close())

    it('push then pull gives back the bytes, to a file and to a stream', async () => {
      const bytes = randomBytes(300_000)
      const word = `contract${t.name}${Date.now()}`
      const pushed = await client.push({file: fileWith(bytes, `${word}.bin`), key: 'default', minReplicas: 1, tags: ['contract']})
      assert.equal(pushed.size, bytes.length)
      assert.equal(pushed.name, `${word}.bin`)
      assert.equal(pushed.owner, new KeyStore(home).didOf())
      assert.ok(pushed.replicas >= 1)
      const out = join(scratch.home, `out-${t.name}.bin`)
      const pulled = await client.pull({cid: pushed.cid, output: out})
      assert.equal(pulled.size, bytes.length)
      assert.deepEqual(readFileSync(out), bytes)
      const sink = new PassThrough()
      const parts: Buffer[] = []
      sink.on('data', (d) => parts.push(d))
      const streamed = await client.pull({cid: pushed.cid, stdout: sink})
      assert.equal(streamed.size, bytes.length)
      assert.deepEqual(Buffer.concat(parts), bytes)
      // search finds it by a word of its name
      const found = await client.search({query: word})
      assert.deepEqual(found.results.map((r) => r.cid), [pushed.cid])
    })

    it('a CID nobody holds is NOT_FOUND (exit 3); a malformed one is bad input (exit 2)', async () => {
      await assert.rejects(client.pull({cid: ABSENT, stdout: new PassThrough()}), {name: 'NotFoundError'})
      await assert.rejects(client.pull({cid: 'not-a-cid', stdout: new PassThrough()}), {name: 'InputError'})
    })

    it('push with too few replicas is TOO_FEW_REPLICAS (exit 5); the object is still stored', async () => {
      const bytes = randomBytes(1000)
      await assert.rejects(client.push({file: fileWith(bytes, 'few.bin'), key: 'default', minReplicas: 9, replicas: 9}), (err: any) => {
        assert.equal(err.code, 'TOO_FEW_REPLICAS')
        assert.equal(err.exit, 5)
        return true
      })
    })

    it('trust add, ls, score and rm round-trip through the target', async () => {
      const other = new KeyStore(join(scratch.home, `keys-${t.name}`)).create('x').identity.did
      const me = new KeyStore(home).didOf()!
      const added = await client.changeTrust('default', {op: 'add', did: other, weight: 2})
      assert.equal(added.owner, me)
      assert.equal(added.stored, true)
      assert.deepEqual((await client.listTrust('default')).trusts, [{did: other, weight: 2}])
      const score = await client.scoreTrust('default', other)
      assert.deepEqual({score: score.score, paths: score.paths, pathCount: score.pathCount}, {score: 1, paths: [{path: [me, other], weight: 1}], pathCount: 1})
      await assert.rejects(client.scoreTrust('default', 'did:key:nope'), {name: 'InputError'})
      const removed = await client.changeTrust('default', {op: 'rm', did: other})
      assert.deepEqual(removed.trusts, [])
      assert.deepEqual((await client.listTrust('default')).trusts, [])
      await assert.rejects(client.changeTrust('default', {op: 'rm', did: other}), {name: 'NotFoundError'})
    })

    it('erase: only the owner\'s key erases; then the object is gone', async () => {
      const bytes = randomBytes(5000)
      const pushed = await client.push({file: fileWith(bytes, 'erase-me.bin'), key: 'default', minReplicas: 1})
      await assert.rejects(client.erase({cid: pushed.cid, key: 'missing-key'}), {name: 'NotFoundError'})
      if (!new KeyStore(home).list().includes('stranger')) new KeyStore(home).create('stranger')
      await assert.rejects(client.erase({cid: pushed.cid, key: 'stranger'}), {name: 'NotAllowedError'})
      const erased = await client.erase({cid: pushed.cid, key: 'default'})
      assert.equal(erased.erased, true)
      assert.equal(erased.records.length, 1)
      await assert.rejects(client.pull({cid: pushed.cid, stdout: new PassThrough()}), {name: 'NotFoundError'})
    })

    it('peers: rows of the documented shape', async () => {
      const rows = await client.listPeers()
      assert.ok(Array.isArray(rows))
      for (const r of rows) assert.deepEqual(Object.keys(r), ['did', 'url', 'services', 'lastSeen', 'rttMs', 'state'])
    })

    it('seed: no seed answering is NETWORK (exit 5)', async () => {
      await assert.rejects(client.seed([UNREACHABLE]), (err: any) => err.name === 'NetworkError' && /no seed answered/.test(err.message))
    })

    it('a pre-aborted signal rejects before anything is sent or stored', async () => {
      const signal = AbortSignal.abort()
      const word = `aborted${t.name}${Date.now()}`
      await assert.rejects(client.push({file: fileWith(randomBytes(100), `${word}.bin`), key: 'default', minReplicas: 1, signal}), {name: 'AbortError'})
      await assert.rejects(client.pull({cid: ABSENT, signal}), {name: 'AbortError'})
      await assert.rejects(client.listPeers({signal}), {name: 'AbortError'})
      await assert.rejects(client.listTrust('default', {signal}), {name: 'AbortError'})
      assert.deepEqual((await client.search({query: word})).results, [])
    })

    if (t.operated) {
      it('peers add, ping and rm, and nat-test, go through the node', async () => {
        const added = await client.addPeer(peerNode.url)
        assert.deepEqual(added, {did: peerNode.did, url: peerNode.url, state: 'alive'})
        assert.ok((await client.listPeers()).some((p) => p.did === peerNode.did))
        const ping = await client.pingPeer(peerNode.did)
        assert.equal(ping.did, peerNode.did)
        assert.equal(typeof ping.rttMs, 'number')
        assert.deepEqual(await client.removePeer(peerNode.did), {did: peerNode.did, removed: true})
        await assert.rejects(client.removePeer(peerNode.did), {name: 'NotFoundError'})
        await assert.rejects(client.pingPeer(peerNode.did), {name: 'NotFoundError'})
        // No peer can run the dial-back: the node says so (exit 5).
        await assert.rejects(client.natTest([UNREACHABLE]), {name: 'NetworkError'})
      })
    } else {
      it('peers add, rm, ping and nat-test are refused with what they need (exit 2), and nothing is sent', async () => {
        const did = peerNode.did
        const before = await new LocalNodeClient(peerNode.socket).listPeers()
        for (const [call, command] of [
          [() => client.addPeer(peerNode.url), 'peers add'],
          [() => client.removePeer(did), 'peers rm'],
          [() => client.pingPeer(did), 'peers ping'],
        ] as const) {
          await assert.rejects(call(), (err: any) => err.name === 'InputError' && err.exit === 2 && err.message === `\`polar ${command}\` needs a running node on this home (start one with \`polar serve\`), or --node SOCKET`)
        }
        await assert.rejects(client.natTest([peerNode.url]), (err: any) => err.name === 'InputError' && /tests the address a running node announces/.test(err.message))
        // Nothing reached the peer it was asked to add: its table is as it was.
        assert.deepEqual((await new LocalNodeClient(peerNode.socket).listPeers()).map((p) => p.did), before.map((p) => p.did))
      })
    }
  })
}

describe('what human output says about each target', () => {
  it('notes name the target and say when nothing left this home', async () => {
    const embedded = new EmbeddedClient({home: embeddedHome.home})
    assert.deepEqual({...embedded.notes}, {
      source: `${embeddedHome.home} (no node running)`,
      pushed: ' (this store; no node running)',
      erased: ' (this store only; no node running)',
      seeded: 'no node running on this home: nothing registered; start one with `polar serve --seed URL`',
    })
    const remote = new RemoteNodeClient('http://127.0.0.1:7477/some/path', {home: embeddedHome.home})
    assert.equal(remote.notes.source, 'http://127.0.0.1:7477')
    assert.equal(remote.notes.seeded, 'with --node URL nothing is registered here: the records were fetched and checked only')
    assert.equal(new LocalNodeClient('/x.sock').notes.seeded, undefined)
  })
})

describe('openClient: which client a command gets (the --node / socket / embedded rule)', () => {
  it('a URL is the remote node (its origin), a path that node\'s socket, else the node running on the home, else the embedded store', async () => {
    const remote = await openClient({home: embeddedHome.home, node: `${remoteNode.url}/ignored/path`})
    assert.ok(remote instanceof RemoteNodeClient)
    assert.equal(remote.url, remoteNode.url)
    const bySocket = await openClient({home: embeddedHome.home, node: localNode.socket})
    assert.ok(bySocket instanceof LocalNodeClient)
    assert.equal(bySocket.socketPath, localNode.socket)
    const byHome = await openClient({home: localNode.home})
    assert.ok(byHome instanceof LocalNodeClient)
    assert.equal(byHome.socketPath, localNode.socket)
    const embedded = await openClient({home: embeddedHome.home})
    assert.ok(embedded instanceof EmbeddedClient)
    await Promise.all([remote, bySocket, byHome, embedded].map((c) => c.close()))
  })

  it('a malformed --node URL is bad input (exit 2)', async () => {
    await assert.rejects(openClient({home: embeddedHome.home, node: 'http://'}), (err: any) => err.name === 'InputError' && /--node must be an http\(s\) URL/.test(err.message))
  })
})
