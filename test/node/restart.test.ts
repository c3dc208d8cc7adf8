// A node restarted on its old home and URL is seen alive by the others at
// once (issue 14, chaos scenario restart-db-intact): its peers had marked it
// dead and retry dead peers only every deadRetryMs (30 min), so the starting
// node greets the peers in its table with a signed announce (node/liveness.ts)
// and each dials it back and marks it alive.
import assert from 'node:assert/strict'
import {after, describe, it} from 'node:test'
import {json} from '../helpers.js'
import {Cluster, waitFor, type NodeProcess} from './cluster.js'

describe('restart with the database intact', {timeout: 240_000}, () => {
  const cluster = new Cluster()
  after(() => cluster.stop())

  const stateOf = async (viewer: NodeProcess, did: string): Promise<string | undefined> => {
    const r = await viewer.polar(['peers', '--json'])
    if (r.code !== 0) return undefined
    return (json(r) as Array<{did: string; state: string}>).find((p) => p.did === did)?.state
  }

  it('the others, which had marked it dead, see it alive again without waiting for their dead-peer retry', async (t) => {
    const t0 = Date.now()
    const step = (what: string) => t.diagnostic(`${what} after ${Date.now() - t0} ms`)
    const [a, b, c] = await cluster.startMany(3)
    await Cluster.mesh([a, b, c])
    step('meshed')
    const port = new URL(c.url).port
    await c.kill()
    for (const viewer of [a, b]) {
      await waitFor(`${viewer.url} to mark the killed node dead`, async () => (await stateOf(viewer, c.did)) === 'dead', {timeoutMs: 60_000, intervalMs: 500})
    }
    step('marked dead')
    const back = await cluster.start(c.home, ['--listen', `127.0.0.1:${port}`])
    assert.equal(back.did, c.did)
    assert.equal(back.url, c.url)
    step('restarted')
    // The dead-peer retry is 30 min away: only the greeting can bring this about within the wait.
    for (const viewer of [a, b]) {
      await waitFor(`${viewer.url} to see the restarted node alive`, async () => (await stateOf(viewer, c.did)) === 'alive', {timeoutMs: 60_000, intervalMs: 250})
        .catch((err) => { throw new Error(`${err.message}\n${cluster.logs()}`) })
    }
    step('seen alive')
    // It did greet both (each answer may come after the peer marked it alive, so the count is not checked).
    await waitFor('the restarted node to log its greeting', () => /greeted \d of 2 known peer\(s\) at start/.test(back.stderr()), {timeoutMs: 30_000})
      .catch((err) => { throw new Error(`${err.message}\n${back.stderr()}`) })
  })
})
