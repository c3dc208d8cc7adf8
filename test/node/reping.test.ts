// A node re-pings peers it had marked dead when a pull finds no holder among
// its live peers (Liveness.reping, node/liveness.ts): a holder that comes back serves the
// next pull at once, not after the ping loop's back-off (every tenth round).
import assert from 'node:assert/strict'
import {after, describe, it} from 'node:test'
import {json} from '../helpers.js'
import {Cluster, waitFor} from './cluster.js'

describe('re-ping of dead peers', {timeout: 240_000}, () => {
  const cluster = new Cluster()
  after(() => cluster.stop())

  it('a pull finding no live holder asks dead peers again: a restarted holder serves it', async () => {
    const [a, b] = await cluster.startMany(2)
    await Cluster.mesh([a, b])
    const pushed = await b.polar(['push', '-', '--replicas', '1', '-q'], {input: 'only on b'})
    assert.equal(pushed.code, 0, pushed.stderr)
    const cid = pushed.stdout.toString().trim()
    const port = new URL(b.url).port
    await b.kill()
    const state = async () => json(await a.polar(['peers', '--json'])).find((p: any) => p.did === b.did)?.state
    await waitFor('a to mark b dead', async () => (await state()) === 'dead', {timeoutMs: 40_000})
    const back = await cluster.start(b.home, ['--listen', `127.0.0.1:${port}`])
    assert.equal(back.url, b.url)
    const pulled = await a.polar(['pull', cid])
    assert.equal(pulled.code, 0, pulled.stderr)
    assert.equal(pulled.stdout.toString(), 'only on b')
    assert.equal(await state(), 'alive')
  })

  it('a pull that no peer could answer (the only one is down, re-ping included) is a network failure, exit 5, not "not found"', async () => {
    const [a] = await cluster.startMany(1)
    const gone = await cluster.start()
    await Cluster.join(a, gone)
    await gone.kill()
    // The CID of 'hello world' (raw leaf): held by no node here.
    const r = await a.polar(['pull', 'bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e'])
    assert.equal(r.code, 5, `exit ${r.code}: ${r.stderr}`)
    assert.match(r.stderr, /bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e/)
    assert.match(r.stderr, /none of its 1 known peer\(s\) answered/)
    // With a peer that answers (it does not hold it either), the same pull is "not found", exit 3.
    const other = await cluster.start()
    await Cluster.join(a, other)
    const r3 = await a.polar(['pull', 'bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e'])
    assert.equal(r3.code, 3, `exit ${r3.code}: ${r3.stderr}`)
  })
})
