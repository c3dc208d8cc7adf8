import assert from 'node:assert/strict'
import {writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {generateSecretKey, identityFromSecret, type Identity} from '../../src/lib/identity/keys.js'
import {signRequest} from '../../src/lib/net/auth.js'
import {mintPeerRecord, signPeerRecord, type SignedPeerRecord} from '../../src/lib/records/peer-record.js'
import {mintStamp} from '../../src/lib/records/stamp.js'
import {PeerClient} from '../../src/lib/net/peer/index.js'
import {retryWhileMinting} from '../../src/lib/node/discovery.js'
import {json} from '../helpers.js'
import {Cluster, localApi, type NodeProcess, waitFor} from './cluster.js'

/** Low difficulty and fast gossip so that the test stays quick (the default is 19 bits, ~1 s). */
const BITS = 6
const FAST = {stampBits: BITS, gossipIntervalMs: 200, pullIntervalMs: 2_000}

function withSettings(cluster: Cluster, settings: Record<string, unknown>): string {
  const home = cluster.home()
  writeFileSync(join(home, 'settings.json'), JSON.stringify(settings))
  return home
}

async function peerDids(node: NodeProcess): Promise<string[]> {
  const r = await localApi(node.socket, 'GET', '/api/v1/peers')
  return (r.body.peers as Array<{did: string; state: string}>).filter((p) => p.state === 'alive').map((p) => p.did)
}

/** A node's log line arrives on its stderr pipe a moment after the HTTP answer. */
const logged = (node: NodeProcess, re: RegExp) => waitFor(`log line ${re}`, () => re.test(node.stderr()), {timeoutMs: 10_000})

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64')

async function post(url: string, path: string, body: unknown, identity?: Identity, to?: string): Promise<{status: number; body: any}> {
  const raw = Buffer.from(JSON.stringify(body))
  const headers: Record<string, string> = {'content-type': 'application/json', ...(identity ? signRequest(identity, 'POST', path, raw, Date.now(), to) : {})}
  const res = await fetch(url + path, {method: 'POST', headers, body: raw, signal: AbortSignal.timeout(30_000)})
  return {status: res.status, body: await res.json().catch(() => undefined)}
}

describe('discovery: seed, register, gossip', {timeout: 180_000}, () => {
  const cluster = new Cluster()
  let nodes: NodeProcess[]
  before(async () => {
    const first = await cluster.start(withSettings(cluster, FAST))
    const rest = await Promise.all(Array.from({length: 5}, () => cluster.start(withSettings(cluster, FAST), ['--seed', first.url])))
    nodes = [first, ...rest]
  })
  after(() => cluster.stop())

  it('six nodes, each seeded only with node 0, all come to know each other', async () => {
    await waitFor('every node to know the five others', async () => {
      for (const n of nodes) {
        const known = new Set(await peerDids(n))
        if (!nodes.every((m) => m === n || known.has(m.did))) return false
      }
      return true
    }, {timeoutMs: 60_000}).catch((err) => assert.fail(`${err.message}\n${cluster.logs()}`))
  })

  it('polar seed URL through the node: {asked, learned, registered} in --json; a newcomer learns everyone', async () => {
    const late = await cluster.start(withSettings(cluster, FAST))
    const r = await late.polar(['seed', nodes[2].url, '--json'])
    assert.equal(r.code, 0, r.stderr)
    const out = json(r)
    assert.equal(out.asked, 1)
    assert.equal(out.answered, 1)
    assert.ok(out.learned >= 6, `learned ${out.learned}`)
    assert.equal(out.registered, out.learned)
    const known = await peerDids(late)
    for (const n of nodes) assert.ok(known.includes(n.did), `${n.did} known`)
    // and the others learn the newcomer, by the registration and by gossip
    await waitFor('node 0 to know the newcomer', async () => (await peerDids(nodes[0])).includes(late.did), {timeoutMs: 30_000})
  })

  it('restarted with no seed, a node asks a random known peer and learns who joined meanwhile', async () => {
    const home = withSettings(cluster, FAST)
    const x = await cluster.start(home, ['--seed', nodes[0].url])
    await waitFor('x to know node 0', async () => (await peerDids(x)).includes(nodes[0].did), {timeoutMs: 30_000})
    await x.stop()
    const y = await cluster.start(withSettings(cluster, FAST), ['--seed', nodes[3].url])
    await waitFor('every first node to know y', async () => {
      for (const n of nodes) if (!(await peerDids(n)).includes(y.did)) return false
      return true
    }, {timeoutMs: 30_000})
    const again = await cluster.start(home)
    await waitFor('the restarted node to learn y', async () => (await peerDids(again)).includes(y.did), {timeoutMs: 30_000})
      .catch((err) => assert.fail(`${err.message}\n${again.stderr().slice(-3000)}`))
    // The line is logged once every peer learned from that answer is registered, y not necessarily last.
    await waitFor('the restarted node to log whom it asked', () => /asked known peer/.test(again.stderr()), {timeoutMs: 30_000})
  })

  it('polar seed with no node on the home lists what the seed offers and registers nothing; exit 5 when no seed answers, 2 for a bad URL', async () => {
    const home = cluster.home()
    const {runPolar} = await import('./cluster.js')
    writeFileSync(join(home, 'settings.json'), JSON.stringify({stampBits: BITS}))
    const r = await runPolar(['seed', nodes[0].url, '--json'], {home})
    assert.equal(r.code, 0, r.stderr)
    const out = json(r)
    assert.equal(out.registered, 0)
    assert.ok(out.peers.some((p: any) => p.did === nodes[0].did))
    const dead = await runPolar(['seed', 'http://127.0.0.1:9', '--json'], {home})
    assert.equal(dead.code, 5)
    assert.equal(json(dead).error.code, 'NETWORK')
    const bad = await runPolar(['seed', 'ftp://x', '--json'], {home})
    assert.equal(bad.code, 2)
  })

  describe('hostile announces and gossip', () => {
    const stranger = identityFromSecret('stranger', generateSecretKey())
    const mallory = identityFromSecret('mallory', generateSecretKey())
    let target: NodeProcess
    let strangerRecord: SignedPeerRecord
    let server: Server
    before(async () => {
      target = nodes[1]
      // A real little server answering /v1/hello as `stranger`, so that the dial-back can succeed.
      server = createServer((req, res) => {
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify({did: stranger.did, url: '', version: 1, services: 'polar/1'}))
      })
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
      const port = (server.address() as {port: number}).port
      strangerRecord = await mintPeerRecord(stranger, {urls: [`http://127.0.0.1:${port}`], services: 'polar/1', bits: BITS})
    })
    after(() => new Promise<void>((r) => server.close(() => r())))

    const announce = (record: Uint8Array, signer: Identity) => post(target.url, '/v1/peers/announce', {record: b64(record)}, signer, target.did)

    it('a forged record (altered after signing) is refused with 400 and a reason in the log', async () => {
      const {encode} = await import('@ipld/dag-cbor')
      const bytes = encode({...strangerRecord.record, services: 'polar/1 but altered'}) // the old signature
      const r = await announce(bytes, stranger)
      assert.equal(r.status, 400)
      assert.equal(r.body.error.code, 'BAD_PEER_RECORD')
      await logged(target, /announce by did:key:\S+ refused: invalid peer record: signature does not verify/)
    })

    it("a record naming someone else's key is refused (WRONG_KEY)", async () => {
      const r = await announce(strangerRecord.bytes, mallory)
      assert.equal(r.status, 400)
      assert.equal(r.body.error.code, 'WRONG_KEY')
      await logged(target, /names someone else's key/)
    })

    it('a stamp below the difficulty and an oversized service string are refused', async () => {
      const weak = signPeerRecord(stranger, {urls: strangerRecord.record.urls, services: '', userKeys: [], time: Date.now(), stamp: await mintStamp(`peer-record:${stranger.did}`, Date.now(), 1)})
      const low = await announce(weak.bytes, stranger)
      assert.equal(low.status, 400)
      assert.match(low.body.error.message, /stamp/)
      const {encode} = await import('@ipld/dag-cbor')
      const long = encode({...strangerRecord.record, services: 'x'.repeat(1000)})
      const big = await announce(long, stranger)
      assert.equal(big.status, 400)
      assert.match(big.body.error.message, /service string/)
      await logged(target, /service string is 1000 characters/)
    })

    it('a good announce is taken (dial-back answers); replaying an older record after a newer one is refused', async () => {
      const ok = await announce(strangerRecord.bytes, stranger)
      assert.equal(ok.status, 200, JSON.stringify(ok.body))
      assert.equal(typeof ok.body.record, 'string')
      assert.ok((await peerDids(target)).includes(stranger.did))
      const newer = await mintPeerRecord(stranger, {urls: strangerRecord.record.urls, services: 'polar/1 v2', bits: BITS, time: strangerRecord.record.time + 1000})
      assert.equal((await announce(newer.bytes, stranger)).status, 200)
      const replay = await announce(strangerRecord.bytes, stranger)
      assert.equal(replay.status, 400)
      assert.equal(replay.body.error.code, 'REPLAYED')
      await logged(target, /replayed \(/)
      // the same stamp under different content is a replay too
      const reused = signPeerRecord(stranger, {...newer.record, services: 'polar/1 v3'})
      const r = await announce(reused.bytes, stranger)
      assert.equal(r.status, 400)
      await logged(target, /replayed stamp/)
      await localApi(target.socket, 'DELETE', `/api/v1/peers/${stranger.did}`)
    })

    it('an announce whose URL does not answer as the signer is refused (dial-back)', async () => {
      const liar = await mintPeerRecord(mallory, {urls: strangerRecord.record.urls, services: '', bits: BITS})
      const r = await announce(liar.bytes, mallory)
      assert.equal(r.status, 400)
      // The same answer as for any other failed dial-back (issue 20): what the target did is not told.
      assert.equal(r.body.error.code, 'UNREACHABLE')
      await logged(target, new RegExp(`announce by ${mallory.did} refused: dial-back to \\S+ \\(127\\.0\\.0\\.1\\) failed: it answers as ${stranger.did}`))
    })
  })
})

describe('eclipse resistance: thousands of fake peers from one /24', {timeout: 300_000}, () => {
  const cluster = new Cluster()
  let target: NodeProcess
  let honest: NodeProcess[]
  let fakeSeed: Server
  let fakes: Uint8Array[]
  before(async () => {
    // The /24 cap switched on for loopback, so that one machine can play many hosts.
    target = await cluster.start(withSettings(cluster, {...FAST, limitLoopback: true, peersPer24: 4, peersPer16: 16}))
    honest = await Promise.all(Array.from({length: 4}, () => cluster.start(withSettings(cluster, FAST), ['--seed', target.url])))
    await waitFor('the four honest peers to fill the /24', async () => (await peerDids(target)).length === 4, {timeoutMs: 60_000})
    fakes = []
    for (let i = 0; i < 2000; i++) {
      const id = identityFromSecret(`fake${i}`, generateSecretKey())
      fakes.push((await mintPeerRecord(id, {urls: [`http://127.0.0.1:${10_000 + i}`], services: 'polar/1', bits: BITS})).bytes)
    }
    fakeSeed = createServer((req, res) => {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({records: fakes.map(b64)}))
    })
    await new Promise<void>((r) => fakeSeed.listen(0, '127.0.0.1', r))
  })
  after(async () => {
    await new Promise<void>((r) => fakeSeed.close(() => r()))
    await cluster.stop()
  })

  it('none enters the table, whether they come by gossip, by a seed answer, or announce themselves', async () => {
    for (let i = 0; i < fakes.length; i += 64) {
      const r = await post(target.url, '/v1/peers/gossip', {records: fakes.slice(i, i + 64).map(b64)})
      assert.equal(r.status, 200)
    }
    const port = (fakeSeed.address() as {port: number}).port
    const seeded = await target.polar(['seed', `http://127.0.0.1:${port}`, '--json'])
    assert.equal(seeded.code, 0, seeded.stderr)
    assert.equal(json(seeded).registered, 0)
    assert.ok(json(seeded).learned <= 64, 'a seed answer is cut to 64 records')
    // a fifth honest node on the same /24 is refused too, with a reason
    const fifth = await cluster.start(withSettings(cluster, FAST))
    const r = await fifth.polar(['seed', target.url, '--json'])
    assert.equal(r.code, 0, r.stderr)
    await waitFor('the target to have logged the caps', () => /limit 4 per \/24/.test(target.stderr()) && /only the first 64 are considered/.test(target.stderr()), {timeoutMs: 30_000})
    // Nor by the plain register route (`peers add` on the other side): 403 PEER_LIMIT.
    // The fake gossip above came from 127.0.0.1 too and spent that address's dial-back budget
    // (6 a minute with limitLoopback): wait it out, so the answer is the table's, not the budget's.
    let added = await fifth.polar(['peers', 'add', target.url, '--json'])
    for (const until = Date.now() + 120_000; /RATE_LIMITED/.test(added.stdout.toString()) && Date.now() < until;) {
      await new Promise((r) => setTimeout(r, 5_000))
      added = await fifth.polar(['peers', 'add', target.url, '--json'])
    }
    assert.notEqual(added.code, 0, added.stdout.toString())
    assert.match(added.stderr + added.stdout.toString(), /PEER_LIMIT|peer table/)
    const table = await localApi(target.socket, 'GET', '/api/v1/peers')
    const dids = (table.body.peers as Array<{did: string}>).map((p) => p.did).sort()
    assert.deepEqual(dids, honest.map((n) => n.did).sort(), 'only the four honest peers')
  })
})

describe('seed requests to a seed that is still minting its record', () => {
  let asked = 0
  let mintingFor = 0
  const server: Server = createServer((req, res) => {
    asked++
    res.writeHead(200, {'content-type': 'application/json'})
    res.end(JSON.stringify(asked <= mintingFor ? {records: [], minting: true} : {records: [b64(Buffer.from('a record'))]}))
  })
  let url = ''
  before(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    url = `http://127.0.0.1:${(server.address() as {port: number}).port}`
  })
  after(() => server.close())

  it('PeerClient.discovery.seed says MINTING, and retryWhileMinting asks again until the records come', async () => {
    const client = new PeerClient(url)
    asked = 0
    mintingFor = 3
    await assert.rejects(client.discovery.seed(), (e: any) => e.code === 'MINTING' && /still minting/.test(e.message))
    const records = await retryWhileMinting(() => client.discovery.seed())
    assert.equal(asked, 4, 'asked until the seed stopped minting')
    assert.deepEqual(records.map((r) => Buffer.from(r).toString()), ['a record'])
    await client.close()
  })

  it('gives up at once on another error, and on MINTING once its signal has aborted', async () => {
    let calls = 0
    await assert.rejects(retryWhileMinting(async () => { calls++; throw Object.assign(new Error('refused'), {code: 'NETWORK'}) }), /refused/)
    assert.equal(calls, 1)
    calls = 0
    await assert.rejects(retryWhileMinting(async () => { calls++; throw Object.assign(new Error('minting'), {code: 'MINTING'}) }, AbortSignal.abort()), /minting/)
    assert.equal(calls, 1, 'no second try once aborted')
  })
})
