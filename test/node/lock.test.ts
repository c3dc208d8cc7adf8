// One node per home: two `serve`s started at the same instant must not both run
// (the live-socket check alone races); a SIGKILLed node's claim is taken over.
import assert from 'node:assert/strict'
import {after, describe, it} from 'node:test'
import {spawnPolar, tmpHome} from '../helpers.js'

const firstLine = (child: import('node:child_process').ChildProcess): Promise<string> => new Promise((resolve) => {
  let buf = ''
  child.stdout!.on('data', (d) => {
    buf += d
    if (buf.includes('\n')) resolve(buf.split('\n')[0])
  })
  child.on('close', () => resolve(buf.split('\n')[0]))
})

describe('node lock', () => {
  const {home, cleanup} = tmpHome()
  const children: Array<import('node:child_process').ChildProcess> = []
  after(() => {
    for (const c of children) c.kill('SIGKILL')
    cleanup()
  })

  it('lets exactly one of two simultaneous serves run, and a killed holder is replaced', async () => {
    const a = spawnPolar(['serve', '--listen', '127.0.0.1:0', '--json'], {home, timeoutMs: 30_000})
    const b = spawnPolar(['serve', '--listen', '127.0.0.1:0', '--json'], {home, timeoutMs: 30_000})
    children.push(a.child, b.child)
    const lines = await Promise.all([firstLine(a.child), firstLine(b.child)])
    const parsed = lines.map((l) => JSON.parse(l))
    const ready = parsed.filter((p) => p.event === 'ready')
    const refused = parsed.filter((p) => p.error?.code === 'NODE_RUNNING')
    assert.equal(ready.length, 1, `one ready line: ${lines.join(' | ')}`)
    assert.equal(refused.length, 1, `one NODE_RUNNING refusal: ${lines.join(' | ')}`)
    const winner = parsed[0].event === 'ready' ? a : b
    const loser = winner === a ? b : a
    assert.equal((await loser.result).code, 1)

    winner.child.kill('SIGKILL')
    await winner.result
    const c = spawnPolar(['serve', '--listen', '127.0.0.1:0', '--json'], {home, timeoutMs: 30_000})
    children.push(c.child)
    const line = JSON.parse(await firstLine(c.child))
    assert.equal(line.event, 'ready', 'a restart after SIGKILL takes over the stale claim')
    c.child.kill('SIGTERM')
    assert.equal((await c.result).code, 0)
  })
})
