// `polar serve` as a process (issue 3, "What to build"): the ready line, the
// 0600 socket and its lifecycle (removed on SIGTERM, a stale one replaced),
// one node per home, restart on an intact database, `peers --json`, and remote
// mode (`--node URL`) with no local node.
import assert from 'node:assert/strict'
import {createHash, randomBytes} from 'node:crypto'
import {existsSync, lstatSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {json} from '../helpers.js'
import {CLI, Cluster, hasBlocks, NodeProcess, packPath, runPolar, SERVE_ARGS, waitFor} from './cluster.js'

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

describe('polar serve', {timeout: 120_000}, () => {
  const cluster = new Cluster()
  let a: NodeProcess
  let b: NodeProcess
  const data = randomBytes(1536 * 1024 + 3)
  let cid: string

  before(async () => {
    ;[a, b] = await cluster.startMany(2)
  })
  after(() => cluster.stop())

  it('prints exactly the ready line {event, did, url, socket} on stdout', () => {
    assert.deepEqual(Object.keys(a.ready).sort(), ['did', 'event', 'socket', 'url'])
    assert.equal(a.ready.event, 'ready')
    assert.match(a.did, /^did:key:z6Mk[1-9A-HJ-NP-Za-km-z]{44}$/)
    assert.match(a.url, /^http:\/\/127\.0\.0\.1:\d{2,5}$/)
    assert.notEqual(a.url, b.url)
    assert.equal(a.socket, join(a.home, 'polar.sock'))
    assert.equal(a.stdout(), JSON.stringify(a.ready) + '\n', 'nothing but the ready line on stdout')
    assert.match(a.stderr(), /listening on/)
  })

  it('creates the socket with mode 0600 and a node identity in POLAR_HOME/node', () => {
    const st = lstatSync(a.socket)
    assert.ok(st.isSocket())
    assert.equal(st.mode & 0o777, 0o600)
    const key = join(a.home, 'node', 'keys', 'default')
    assert.equal(statSync(key).mode & 0o777, 0o600)
    assert.equal(JSON.parse(readFileSync(key, 'utf8')).did, a.did)
  })

  it('answers GET /v1/hello with its did', async () => {
    const hello = await (await fetch(`${a.url}/v1/hello`)).json() as any
    assert.equal(hello.did, a.did)
    assert.equal(hello.url, a.url)
    assert.equal(hello.version, 1)
  })

  it('refuses a second serve on the same home, and the first keeps its socket', async () => {
    const r = await runPolar(['serve', ...SERVE_ARGS], {home: a.home, timeoutMs: 30_000})
    assert.equal(r.code, 1, r.stderr + r.stdout)
    const err = json(r).error
    assert.equal(err.code, 'NODE_RUNNING')
    assert.match(err.message, /already running/)
    assert.ok(existsSync(a.socket), 'the running node still has its socket')
    const peers = await a.polar(['peers', '--json'])
    assert.equal(peers.code, 0, peers.stderr)
    assert.ok(a.running)
  })

  it('refuses a port that is taken, with exit 1 and a message (not a hang)', async () => {
    const home = cluster.home()
    const port = new URL(a.url).port
    const r = await runPolar(['serve', '--listen', `127.0.0.1:${port}`, '--json'], {home, timeoutMs: 30_000})
    assert.equal(r.code, 1, r.stderr + r.stdout)
    assert.match(json(r).error.message, /EADDRINUSE|in use/)
    assert.equal(existsSync(join(home, 'polar.sock')), false)
  })

  it('`peers add` joins two nodes; `peers --json` shows {did, url, services, lastSeen, rttMs, state} on both', async () => {
    const add = await a.polar(['peers', 'add', b.url, '--json'])
    assert.equal(add.code, 0, add.stderr)
    assert.deepEqual(json(add), {did: b.did, url: b.url, state: 'alive'})
    for (const [self, other] of [[a, b], [b, a]] as const) {
      const r = await self.polar(['peers', '--json'])
      assert.equal(r.code, 0, r.stderr)
      const rows = json(r)
      assert.equal(rows.length, 1)
      const p = rows[0]
      assert.deepEqual(Object.keys(p).sort(), ['did', 'lastSeen', 'rttMs', 'services', 'state', 'url'])
      assert.equal(p.did, other.did)
      assert.equal(p.url, other.url)
      assert.equal(p.state, 'alive')
      assert.equal(typeof p.lastSeen, 'number')
      assert.ok(Math.abs(Date.now() - p.lastSeen) < 60_000)
      assert.match(p.services, /polar/, 'the service string the peer announced in its hello')
    }
    // The ping loop (1 s) measures a round trip on both sides.
    await waitFor('an rtt on both sides', async () => {
      const rows = await Promise.all([a, b].map(async (n) => json(await n.polar(['peers', '--json']))[0]))
      return rows.every((p) => typeof p.rttMs === 'number' && p.rttMs >= 0)
    }, {timeoutMs: 15_000, intervalMs: 500})
    const filtered = await a.polar(['peers', '--json', '--service', '^polar/'])
    assert.equal(json(filtered).length, 1)
    const none = await a.polar(['peers', '--json', '--service', '^nothing$'])
    assert.deepEqual(json(none), [])
  })

  it('`peers add` of itself (exit 2) or of nothing (exit 5), `peers rm` of a stranger (exit 3)', async () => {
    const self = await a.polar(['peers', 'add', a.url, '--json'])
    assert.equal(self.code, 2, self.stdout + self.stderr)
    assert.match(json(self).error.message, /itself/)
    const nothing = await a.polar(['peers', 'add', 'http://127.0.0.1:1', '--json'])
    assert.equal(nothing.code, 5, nothing.stdout + nothing.stderr)
    const junk = await a.polar(['peers', 'add', 'not a url', '--json'])
    assert.equal(junk.code, 2, junk.stdout + junk.stderr)
    const stranger = await a.polar(['peers', 'rm', 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK', '--json'])
    assert.equal(stranger.code, 3, stranger.stdout + stranger.stderr)
    const bad = await a.polar(['peers', 'rm', 'did:key:nope', '--json'])
    assert.equal(bad.code, 2)
    assert.equal(json(await a.polar(['peers', '--json'])).length, 1, 'still exactly one peer')
  })

  it('a pull of an object no node has exits 3, through the node', async () => {
    const r = await a.polar(['pull', 'bafkreie2pn5tuxkqpanu6r3izv6oeiywr5vujg3yvvvmlfg3k6emhoaf2e', '-o', join(a.home, 'nothing'), '--json'])
    assert.equal(r.code, 3, r.stdout + r.stderr)
    assert.equal(json(r).error.code, 'NOT_FOUND')
    const bad = await a.polar(['pull', 'not-a-cid'])
    assert.equal(bad.code, 2)
  })

  it('`peers --node URL` lists a remote node\'s peers with no local node', async () => {
    const home = cluster.home()
    const r = await runPolar(['peers', '--node', a.url, '--json'], {home})
    assert.equal(r.code, 0, r.stderr)
    const rows = json(r)
    assert.equal(rows.length, 1)
    assert.equal(rows[0].did, b.did)
    assert.deepEqual(Object.keys(rows[0]).sort(), ['did', 'lastSeen', 'rttMs', 'services', 'state', 'url'])
    assert.equal(existsSync(join(home, 'polar.sock')), false)
  })

  it('`push --node URL` by an untrusted key that will not pay the stamp is refused (exit 6); `pull --node URL` works with no local node', async () => {
    const home = cluster.home()
    const file = join(home, 'data.bin')
    writeFileSync(file, data)
    const refused = await runPolar(['push', file, '--node', a.url, '--json', '--max-stamp-bits', '0'], {home})
    assert.equal(refused.code, 6, refused.stderr + refused.stdout)
    assert.equal(json(refused).error.code, 'STAMP_REQUIRED')
    assert.match(json(refused).error.message, /remote writers.*--max-stamp-bits 0/)

    const pushed = await a.polar(['push', file, '--json', '--replicas', '1'])
    assert.equal(pushed.code, 0, pushed.stderr)
    cid = json(pushed).cid
    const pulled = await runPolar(['pull', cid, '--node', a.url], {home})
    assert.equal(pulled.code, 0, pulled.stderr)
    assert.equal(sha(pulled.stdout), sha(data))
    const out = join(home, 'out.bin')
    const j = await runPolar(['pull', cid, '--node', a.url, '-o', out, '--json'], {home})
    assert.equal(j.code, 0, j.stderr)
    assert.deepEqual(json(j), {cid, size: data.length, path: out})
    assert.equal(sha(readFileSync(out)), sha(data))
    // POLAR_NODE does the same as --node.
    const env = await runPolar(['pull', cid], {home, env: {POLAR_NODE: a.url}})
    assert.equal(env.code, 0, env.stderr)
    assert.equal(sha(env.stdout), sha(data))
    // An object the remote does not have: exit 3.
    const missing = await runPolar(['pull', 'bafkreie2pn5tuxkqpanu6r3izv6oeiywr5vujg3yvvvmlfg3k6emhoaf2e', '--node', a.url, '-o', out + '2', '--json'], {home})
    assert.equal(missing.code, 3, missing.stderr + missing.stdout)
    assert.equal(json(missing).error.code, 'NOT_FOUND')
  })

  it('`pull --node URL` of an unreachable node exits 5', async () => {
    const home = cluster.home()
    // A port nothing listens on: b's port after b stops would race; use port 1.
    const r = await runPolar(['pull', 'bafkreie2pn5tuxkqpanu6r3izv6oeiywr5vujg3yvvvmlfg3k6emhoaf2e', '--node', 'http://127.0.0.1:1', '-o', join(home, 'x'), '--json'], {home})
    assert.equal(r.code, 5, r.stderr + r.stdout)
  })

  it('SIGTERM: exit 0, socket removed, database closed', async () => {
    const exit = await b.stop()
    assert.deepEqual(exit, {code: 0, signal: null}, b.stderr())
    assert.equal(existsSync(b.socket), false)
    assert.match(b.stderr(), /SIGTERM: stopping[\s\S]*node stopped/)
    assert.equal(b.stdout(), JSON.stringify(b.ready) + '\n', 'nothing on stdout after the ready line')
    // With no node, commands on the home use the embedded store.
    const r = await runPolar(['peers', '--json'], {home: b.home})
    assert.equal(r.code, 0, r.stderr)
    assert.equal(json(r)[0].did, a.did)
  })

  it('a pull through a node whose peers are all unreachable is a network failure (exit 5), not "not found"', async () => {
    // a's only peer, b, has just stopped.
    const r = await a.polar(['pull', 'bafkreie2pn5tuxkqpanu6r3izv6oeiywr5vujg3yvvvmlfg3k6emhoaf2e', '-o', join(a.home, 'nothing'), '--json'])
    assert.equal(r.code, 5, r.stdout + r.stderr)
    assert.match(json(r).error.message, /peer/)
    // What it holds itself still pulls.
    const own = await a.polar(['pull', cid])
    assert.equal(own.code, 0, own.stderr)
  })

  it('SIGTERM during a push through the socket: the push finishes, then the node exits 0', async () => {
    const home = cluster.home()
    const n = await cluster.start(home)
    const {spawn} = await import('node:child_process')
    const payload = randomBytes(6 * 1024 * 1024)
    const push = spawn(process.execPath, [CLI, 'push', '-', '--json', '--name', 'stream'], {env: {...process.env, POLAR_HOME: home, NO_COLOR: '1'}, stdio: ['pipe', 'pipe', 'pipe']})
    let out = ''
    let err = ''
    push.stdout.on('data', (d) => (out += d))
    push.stderr.on('data', (d) => (err += d))
    push.stdin.on('error', (e) => (err += `\n[stdin: ${e.message}]`))
    const pushed = new Promise<number | null>((r) => push.once('exit', r))
    const killer = setTimeout(() => push.kill('SIGKILL'), 60_000)
    try {
      push.stdin.write(payload.subarray(0, 2 * 1024 * 1024))
      // Once the node has blocks of it in flight, ask it to stop.
      // Once the node has written a block of it, ask it to stop.
      await waitFor('the node to store part of the push', () => existsSync(packPath(home, 1)) && statSync(packPath(home, 1)).size >= 1024 * 1024, {timeoutMs: 20_000, intervalMs: 20})
      n.child.kill('SIGTERM')
      await waitFor('the node to log that it is stopping', () => /SIGTERM: stopping/.test(n.stderr()), {timeoutMs: 10_000, intervalMs: 20})
      push.stdin.end(payload.subarray(2 * 1024 * 1024))
      const code = await pushed
      assert.equal(code, 0, err + out + n.stderr())
      const res = JSON.parse(out)
      assert.equal(res.size, payload.length)
      assert.deepEqual(await n.exited, {code: 0, signal: null}, n.stderr())
      // Durable: the embedded store has it whole.
      const back = await runPolar(['pull', res.cid], {home})
      assert.equal(back.code, 0, back.stderr)
      assert.equal(sha(back.stdout), sha(payload))
    } finally {
      clearTimeout(killer)
      push.kill('SIGKILL')
    }
  })

  it('restarts on its intact database: same did, same peers, serves what it held', async () => {
    const home = a.home
    const did = a.did
    assert.deepEqual(await a.stop(), {code: 0, signal: null})
    a = await cluster.start(home)
    assert.equal(a.did, did)
    assert.deepEqual(await hasBlocks(a.url, [cid]), [true])
    const r = await a.polar(['pull', cid])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(sha(r.stdout), sha(data))
    const peers = json(await a.polar(['peers', '--json']))
    assert.deepEqual(peers.map((p: any) => p.did), [b.did])
  })

  it('replaces a stale socket left by a SIGKILLed node', async () => {
    const home = a.home
    const socket = a.socket
    const exit = await a.kill()
    assert.equal(exit.signal, 'SIGKILL')
    assert.ok(lstatSync(socket).isSocket(), 'the killed node left its socket file behind')
    // Commands see that nobody answers on it and fall back to the embedded store.
    const started = Date.now()
    const embedded = await runPolar(['pull', cid], {home})
    assert.equal(embedded.code, 0, embedded.stderr)
    assert.equal(sha(embedded.stdout), sha(data))
    assert.ok(Date.now() - started < 15_000)
    // A new node takes the home over and makes a fresh 0600 socket.
    a = await cluster.start(home)
    const st = lstatSync(a.socket)
    assert.ok(st.isSocket())
    assert.equal(st.mode & 0o777, 0o600)
    const r = await a.polar(['pull', cid])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(sha(r.stdout), sha(data))
    const status = await a.polar(['peers', '--json'])
    assert.equal(status.code, 0)
  })

  it('--json is off: a human ready line on stdout', async () => {
    const home = cluster.home()
    const args = SERVE_ARGS.filter((x) => x !== '--json')
    const {spawn} = await import('node:child_process')
    const child = spawn(process.execPath, [CLI, 'serve', ...args], {env: {...process.env, POLAR_HOME: home, NO_COLOR: '1'}, stdio: ['ignore', 'pipe', 'pipe']})
    try {
      let out = ''
      child.stdout.on('data', (d) => (out += d))
      await waitFor('a human ready line', () => out.includes('\n'), {timeoutMs: 20_000, intervalMs: 50})
      assert.match(out, /^polar node did:key:z6Mk\S+ on http:\/\/127\.0\.0\.1:\d+ \(local API .*polar\.sock\)\n$/)
    } finally {
      const done = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      const t = setTimeout(() => child.kill('SIGKILL'), 8_000)
      await done
      clearTimeout(t)
    }
  })
})
