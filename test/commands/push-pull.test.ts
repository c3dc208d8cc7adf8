import assert from 'node:assert/strict'
import {after, describe, it} from 'node:test'
import {json, runPolar, tmpHome} from '../helpers.js'

describe('push and pull through the CLI', () => {
  const {home, cleanup} = tmpHome()
  after(cleanup)

  it('prints the IPIP-499 CID of "hello world" and pulls it back', async () => {
    const push = await runPolar(['push', '-', '-q'], {home, input: 'hello world'})
    assert.equal(push.code, 0, push.stderr)
    assert.equal(push.stdout.toString(), 'bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e\n')
    const pull = await runPolar(['pull', 'bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e'], {home})
    assert.equal(pull.code, 0, pull.stderr)
    assert.equal(pull.stdout.toString(), 'hello world')
  })

  it('exits 3 with a NOT_FOUND json error for an unknown CID', async () => {
    const r = await runPolar(['pull', 'bafkreie2pn5tuxkqpanu6r3izv6oeiywr5vujg3yvvvmlfg3k6emhoaf2e', '-o', home + '/x', '--json'], {home})
    assert.equal(r.code, 3)
    assert.equal(json(r).error.code, 'NOT_FOUND')
  })
})
