// Hostile clients for the fault suite (issue 20 points 7 and 8): floods of
// slow or idle connections and slow bodies from a few loopback addresses, and
// clients that pipeline block batches and never read the answers. Each runs
// against a real node while a peer on another address pulls from it.
import {randomBytes} from 'node:crypto'
import {readFileSync, writeFileSync} from 'node:fs'
import {request} from 'node:http'
import {connect} from 'node:net'
import {join} from 'node:path'
import {setTimeout as delay} from 'node:timers/promises'
import {blockList, json, mesh, MiB, Node, removeDir, sha, tempDir, waitFor} from './lib.mjs'

/** The node's inbound cap counters (GET /api/v1/status on its socket). */
export function inbound(node) {
  return new Promise((resolve, reject) => {
    const req = request({socketPath: join(node.home, 'polar.sock'), path: '/api/v1/status', timeout: 10_000}, (res) => {
      let text = ''
      res.on('data', (d) => (text += d))
      res.on('end', () => {
        try { resolve(JSON.parse(text).limits.inbound) } catch (e) { reject(e) }
      })
    })
    req.on('timeout', () => req.destroy(new Error('status: timeout')))
    req.on('error', reject)
    req.end()
  })
}

export const rssOf = (node) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${node.child.pid}/status`, 'utf8'))[1]) * 1024

/** A raw connection from `localAddress`; resolves once connected (the node may close it at once). */
function open(node, localAddress) {
  return new Promise((resolve) => {
    const s = connect({port: Number(node.port), host: '127.0.0.1', localAddress}, () => resolve(s))
    s.on('error', () => {})
    s.once('close', () => resolve(s))
  })
}

/** Two nodes (A holds an object of `size` bytes, B is its peer), A with `settings` in its settings.json. */
async function pair(work, size, settings) {
  const a = new Node(tempDir('polar-chaos-home-'))
  const b = new Node(tempDir('polar-chaos-home-'))
  writeFileSync(join(a.home, 'settings.json'), JSON.stringify(settings))
  await Promise.all([a.start(), b.start()])
  await mesh([a, b])
  const data = randomBytes(size)
  const file = join(work, `hostile-${Date.now()}`)
  writeFileSync(file, data)
  const pr = await a.polar(['push', file, '--replicas', '1', '--json'])
  removeDir(file)
  if (pr.code !== 0) throw new Error(`push: exit ${pr.code} ${pr.stderr}`)
  const cid = json(pr).cid
  return {a, b, cid, sha: sha(data), blocks: await blockList(a.url, cid)}
}

async function pullOk(node, cid, want, work) {
  const out = join(work, `pull-${cid}-${Date.now()}`)
  const t0 = Date.now()
  const r = await node.polar(['pull', cid, '-o', out], {timeoutMs: 120_000})
  const ms = Date.now() - t0
  if (r.code !== 0) return {ok: false, ms, why: `pull exit ${r.code}: ${r.stderr.trim().split('\n').pop()}`}
  const got = sha(readFileSync(out))
  removeDir(out)
  return got === want ? {ok: true, ms} : {ok: false, ms, why: 'pulled bytes differ'}
}

async function stop(nodes) {
  await Promise.allSettled(nodes.map((n) => n.stop()))
  for (const n of nodes) removeDir(n.home)
}

/**
 * conn-flood: 1100 connections from one address sending a header line every
 * 5 s, 300 idle ones from a second address of the same /24, 300 request
 * bodies at a byte every 2 s from a third network — while B pulls from A.
 * The pull must succeed, another address must get its hello, and A must close
 * every hostile connection by itself (time-outs shortened to 2 s here).
 */
export async function connFlood(r, {work, quick}) {
  const {a, b, cid, sha: want} = await pair(work, (quick ? 8 : 32) * MiB, {headersTimeoutMs: 2000, bodyTimeoutMs: 2000})
  const hostile = []
  try {
    const t0 = Date.now()
    const slowHead = async (addr) => {
      const s = await open(a, addr)
      if (!s.destroyed) s.write('GET /v1/hello HTTP/1.1\r\nhost: x\r\n')
      const t = setInterval(() => { if (!s.destroyed) s.write('x-slow: 1\r\n') }, 5_000)
      s.once('close', () => clearInterval(t))
      return s
    }
    const slowBody = async (addr) => {
      const s = await open(a, addr)
      if (!s.destroyed) s.write('POST /v1/blocks/has HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{')
      const t = setInterval(() => { if (!s.destroyed) s.write(' ') }, 2_000)
      s.once('close', () => clearInterval(t))
      return s
    }
    for (let i = 0; i < 1100; i++) hostile.push(await slowHead('127.0.66.2'))
    for (let i = 0; i < 300; i++) hostile.push(await open(a, '127.0.66.3'))
    for (let i = 0; i < 300; i++) hostile.push(await slowBody('127.0.67.2'))
    const during = await inbound(a)
    r.checked = 1
    const problems = []
    const hello = await fetchFrom(a, '127.0.68.9', '/v1/hello')
    if (hello !== 200) problems.push(`hello from another address: HTTP ${hello}`)
    const p = await pullOk(b, cid, want, work)
    if (!p.ok) r.lost = 1, problems.push(`B's pull from A during the flood: ${p.why}`)
    await waitFor('A to close every hostile connection', () => hostile.every((s) => s.destroyed || s.readyState === 'closed'), {timeoutMs: 90_000, intervalMs: 250})
      .catch((e) => problems.push(`${e.message.split(' (last')[0]}: ${hostile.filter((s) => !s.destroyed && s.readyState !== 'closed').length} still open`))
    r.recoveryMs = Date.now() - t0
    const after = await inbound(a)
    if (!(after.slowBodies > 0)) problems.push('no slow body was cut')
    r.note = `${hostile.length} hostile connections: A held ${during.openConnections} open (${during.connectionsRefused} refused at accept), ${during.activeRequests} requests in hand; B pulled in ${p.ms} ms during the flood; A closed the rest by itself (${after.slowBodies} slow bodies cut)`
    if (!a.running) problems.push('A died')
    if (problems.length) throw new Error(problems.join('; '))
  } finally {
    for (const s of hostile) s.destroy()
    await stop([a, b])
  }
}

/**
 * unread-answers: 25 connections each pipelining 8 POST /v1/blocks/get of 32
 * blocks of 1 MiB and never reading (the attack; it took a node from
 * 3.2 to 6.5 GB). A's resident memory must not grow by more than 512 MiB, B
 * must pull meanwhile, and when the attacker leaves every slot comes free.
 */
export async function unreadAnswers(r, {work}) {
  const {a, b, cid, sha: want, blocks} = await pair(work, 32 * MiB, {})
  const sockets = []
  try {
    const leaves = blocks.slice(1)
    const body = JSON.stringify({cids: leaves.slice(0, 32)})
    const req = `POST /v1/blocks/get HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
    const baseline = rssOf(a)
    let peak = baseline
    const sample = setInterval(() => { try { peak = Math.max(peak, rssOf(a)) } catch {} }, 50)
    r.checked = 1
    const problems = []
    let p
    try {
      for (let i = 0; i < 25; i++) {
        const s = await open(a, `127.0.69.${2 + (i % 5)}`)
        s.pause()
        if (!s.destroyed) s.write(req.repeat(8))
        sockets.push(s)
      }
      p = await pullOk(b, cid, want, work)
      await delay(3_000)
    } finally {
      clearInterval(sample)
    }
    if (!p.ok) r.lost = 1, problems.push(`B's pull during the attack: ${p.why}`)
    const during = await inbound(a)
    for (const s of sockets) s.destroy() // the attacker leaves
    const t0 = Date.now()
    await waitFor('every slot on A to be free', async () => (await inbound(a)).activeRequests === 0, {timeoutMs: 30_000, intervalMs: 100})
      .catch((e) => problems.push(e.message.split(' (last')[0]))
    r.recoveryMs = Date.now() - t0
    await delay(2_000)
    const grew = peak - baseline
    r.note = `A's RSS ${(baseline / MiB).toFixed(0)} MiB, peak +${(grew / MiB).toFixed(0)} MiB during 200 unread batch answers of 32 MiB, ${(rssOf(a) / MiB).toFixed(0)} MiB 2 s after they left; ${during.activeRequests} requests in hand; B pulled in ${p.ms} ms`
    if (grew > 512 * MiB) problems.push(`A grew by ${(grew / MiB).toFixed(0)} MiB`)
    if (!a.running) problems.push('A died')
    if (problems.length) throw new Error(problems.join('; '))
  } finally {
    for (const s of sockets) s.destroy()
    await stop([a, b])
  }
}

/** GET `path` on `node` from `localAddress`, on a fresh connection: the status code. */
function fetchFrom(node, localAddress, path) {
  return new Promise((resolve) => {
    const req = request({host: '127.0.0.1', port: Number(node.port), path, localAddress, agent: false, timeout: 30_000}, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', (e) => resolve(`error ${e.message}`))
    req.end()
  })
}
