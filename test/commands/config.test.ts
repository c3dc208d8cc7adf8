import assert from 'node:assert/strict'
import {readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {Cluster, type NodeProcess} from '../node/cluster.js'
import {json, runPolar, tmpHome} from '../helpers.js'

describe('polar config (issue 19, point 9)', () => {
  const {home, cleanup} = tmpHome()
  after(cleanup)

  it('set, get, unset; the file is POLAR_HOME/config.json at 0600', async () => {
    assert.deepEqual(json(await runPolar(['config', 'get', '--json'], {home})), {})
    let r = await runPolar(['config', 'set', 'node', 'http://127.0.0.1:7477/', '--json'], {home})
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(json(r), {key: 'node', value: 'http://127.0.0.1:7477'})
    r = await runPolar(['config', 'set', 'replicas', '5'], {home})
    assert.equal(r.code, 0, r.stderr)
    assert.equal(statSync(join(home, 'config.json')).mode & 0o777, 0o600)
    assert.deepEqual(JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')), {node: 'http://127.0.0.1:7477', replicas: 5})
    assert.deepEqual(json(await runPolar(['config', 'get', '--json'], {home})), {node: 'http://127.0.0.1:7477', replicas: 5})
    assert.equal((await runPolar(['config', 'get'], {home})).stdout.toString(), 'node http://127.0.0.1:7477\nreplicas 5\n')
    assert.equal((await runPolar(['config', 'get', 'replicas'], {home})).stdout.toString(), '5\n')
    assert.deepEqual(json(await runPolar(['config', 'get', 'key', '--json'], {home})), {key: 'key', value: null})
    assert.deepEqual(json(await runPolar(['config', 'unset', 'node', '--json'], {home})), {key: 'node', removed: true})
    assert.deepEqual(json(await runPolar(['config', 'unset', 'node', '--json'], {home})), {key: 'node', removed: false})
    assert.deepEqual(json(await runPolar(['config', 'get', '--json'], {home})), {replicas: 5})
  })

  it('refuses bad values and unknown keys with exit 2, leaving the file as it was', async () => {
    const before = readFileSync(join(home, 'config.json'), 'utf8')
    for (const args of [['replicas', '0'], ['replicas', '65'], ['replicas', '2.5'], ['replicas', 'many'], ['node', 'ftp://x'], ['node', 'http://h:1/path'], ['node', 'relative/sock'], ['node', 'http://'], ['key', '../etc'], ['colour', 'red']]) {
      const r = await runPolar(['config', 'set', ...args, '--json'], {home})
      assert.equal(r.code, 2, `config set ${args.join(' ')}: ${r.stderr}`)
      assert.equal(typeof json(r).error.message, 'string')
    }
    assert.equal(readFileSync(join(home, 'config.json'), 'utf8'), before)
    assert.equal((await runPolar(['config', 'get', 'colour'], {home})).code, 2)
  })

  it('a hand-edited bad value is exit 2 naming the file, for every command that reads it', async () => {
    const {home: h, cleanup: c} = tmpHome()
    after(c)
    writeFileSync(join(h, 'config.json'), JSON.stringify({replicas: -1}))
    for (const args of [['config', 'get'], ['whoami'], ['search', 'x']]) {
      const r = await runPolar([...args, '--json'], {home: h})
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
      assert.ok(json(r).error.message.includes(join(h, 'config.json')), json(r).error.message)
    }
  })

  it('the node default is used, and POLAR_NODE and --node win over it', async () => {
    const {home: h, cleanup: c} = tmpHome()
    after(c)
    // Port 1 on loopback: nothing listens, so the command reports which node it tried.
    assert.equal((await runPolar(['config', 'set', 'node', 'http://127.0.0.1:1'], {home: h})).code, 0)
    let r = await runPolar(['search', 'x', '--json'], {home: h})
    assert.equal(r.code, 5, r.stderr)
    assert.match(json(r).error.message, /127\.0\.0\.1:1\b/)
    r = await runPolar(['search', 'x', '--json'], {home: h, env: {POLAR_NODE: 'http://127.0.0.1:2'}})
    assert.equal(r.code, 5, r.stderr)
    assert.match(json(r).error.message, /127\.0\.0\.1:2\b/)
    r = await runPolar(['search', 'x', '--json', '--node', 'http://127.0.0.1:3'], {home: h, env: {POLAR_NODE: 'http://127.0.0.1:2'}})
    assert.match(json(r).error.message, /127\.0\.0\.1:3\b/)
  })

  it('the key default signs, and --key wins over it', async () => {
    const {home: h, cleanup: c} = tmpHome()
    after(c)
    const work = json(await runPolar(['keygen', '--name', 'work', '--json'], {home: h})).did
    const mine = json(await runPolar(['keygen', '--json'], {home: h})).did
    assert.equal((await runPolar(['config', 'set', 'key', 'work'], {home: h})).code, 0)
    writeFileSync(join(h, 'f'), 'signed by the configured key\n')
    let r = await runPolar(['push', join(h, 'f'), '--json'], {home: h})
    assert.equal(r.code, 0, r.stderr)
    assert.equal(json(r).owner, work)
    r = await runPolar(['push', join(h, 'f'), '--json', '--key', 'default'], {home: h})
    assert.equal(json(r).owner, mine)
  })

  describe('through a node on the home', {timeout: 120_000}, () => {
    const cluster = new Cluster()
    let node: NodeProcess
    before(async () => { node = await cluster.start() })
    after(() => cluster.stop())

    it('the replicas default reaches push, and --replicas wins over it', async () => {
      const file = join(node.home, 'r.txt')
      writeFileSync(file, 'replicas from the config\n')
      assert.equal((await node.polar(['config', 'set', 'replicas', '1'])).code, 0)
      // The node checks --min-replicas against --replicas: the configured 1 is what it was given.
      let r = await node.polar(['push', file, '--min-replicas', '2', '--json'])
      assert.equal(r.code, 2, r.stderr)
      assert.match(json(r).error.message, /more than --replicas 1/)
      r = await node.polar(['push', file, '--min-replicas', '2', '--replicas', '2', '--json'])
      assert.equal(r.code, 5, r.stderr) // a lone node: one replica of two
      assert.equal(json(r).error.code, 'TOO_FEW_REPLICAS')
    })

    it('pull goes to the configured node, not the one on the home (no fast path around the config)', async () => {
      const file = join(node.home, 'p.txt')
      writeFileSync(file, 'pull me\n')
      const cid = (await node.polar(['push', file, '-q'])).stdout.toString().trim()
      assert.equal((await node.polar(['pull', cid])).stdout.toString(), 'pull me\n')
      assert.equal((await node.polar(['config', 'set', 'node', 'http://127.0.0.1:1'])).code, 0)
      const r = await node.polar(['pull', cid, '-o', join(node.home, 'out'), '--json'])
      assert.equal(r.code, 5, r.stderr)
      assert.match(json(r).error.message, /127\.0\.0\.1:1\b/)
      assert.equal((await node.polar(['config', 'unset', 'node'])).code, 0)
    })
  })
})
