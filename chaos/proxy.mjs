// A fault-injecting TCP proxy for the fault suite's partition scenario.
//
// Every node gets its own proxy listener in front of its real port and
// announces the proxy's URL (`polar serve --announce`), so all peer traffic to
// a node passes through the suite. A proxy tells which node opened a
// connection by its source port: the client end of the socket is looked up in
// /proc/net/tcp and its inode found among the node processes' open files
// (Linux only; no change to polar is needed). Connections from anything else
// (the suite's own checks, a CLI) always pass.
//
// cut(sides) partitions the nodes: a connection from a node on one side to a
// node on another is refused (reset at once, like a closed port) or, in 'drop'
// mode, accepted and black-holed (the sender waits for its own time-out, like
// a lost route). Connections already open across the cut are cut too.
// heal() lets everything through again.
import {readdirSync, readFileSync, readlinkSync} from 'node:fs'
import {createConnection, createServer} from 'node:net'
import {setTimeout as delay} from 'node:timers/promises'

/** A free TCP port on 127.0.0.1 (closed again before it is returned: another process could take it meanwhile; the fault suite's nodes do not retry, so such a race fails a scenario loudly rather than silently). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const {port} = s.address()
      s.close(() => resolve(port))
    })
  })
}

const hexPort = (p) => p.toString(16).toUpperCase().padStart(4, '0')

/** Inode of the TCP socket whose local end is 127.0.0.1:localPort and remote end is port remotePort. */
function socketInode(localPort, remotePort) {
  const want = `0100007F:${hexPort(localPort)}`
  const rem = `:${hexPort(remotePort)}`
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text
    try { text = readFileSync(file, 'utf8') } catch { continue }
    for (const line of text.split('\n')) {
      const f = line.trim().split(/\s+/)
      // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
      if (f.length < 10 || !f[1].endsWith(`:${hexPort(localPort)}`) || !f[2].endsWith(rem)) continue
      if (file === '/proc/net/tcp' && f[1] !== want) continue
      if (f[9] !== '0') return f[9]
    }
  }
  return undefined
}

/** Which of `pids` holds socket `inode` open. */
function ownerOf(inode, pids) {
  const target = `socket:[${inode}]`
  for (const pid of pids) {
    let fds
    try { fds = readdirSync(`/proc/${pid}/fd`) } catch { continue }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === target) return pid
      } catch { /* closed meanwhile */ }
    }
  }
  return undefined
}

export class FaultNet {
  /** @param {{mode?: 'refuse' | 'drop', pids: () => Map<number, string>}} opts pids: pid → node label, for the nodes now running */
  constructor({mode = 'refuse', pids}) {
    this.mode = mode
    this.pids = pids
    this.side = undefined // label → side index while cut
    this.proxies = new Map() // label → {server, port, target, url}
    this.open = new Set() // {src, dst, client, upstream}
    this.stats = {connections: 0, identified: 0, refused: 0, dropped: 0, unidentified: 0, cutOpen: 0}
  }

  /** Starts a proxy for node `label` forwarding to 127.0.0.1:targetPort; resolves its URL. */
  async add(label, targetPort) {
    const server = createServer({pauseOnConnect: true}, (sock) => this.accept(label, targetPort, sock).catch(() => sock.destroy()))
    await new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', resolve)
    })
    const port = server.address().port
    const p = {server, port, target: targetPort, url: `http://127.0.0.1:${port}`}
    this.proxies.set(label, p)
    return p
  }

  blocked(src, dst) {
    return !!this.side && src !== undefined && this.side.has(src) && this.side.has(dst) && this.side.get(src) !== this.side.get(dst)
  }

  async identify(sock, proxyPort) {
    for (let i = 0; i < 5; i++) {
      const inode = socketInode(sock.remotePort, proxyPort)
      if (inode) {
        const pids = this.pids()
        const pid = ownerOf(inode, [...pids.keys()])
        if (pid === undefined) return null // not a node (the suite, a CLI)
        this.stats.identified++
        return pids.get(pid)
      }
      await delay(2)
    }
    this.stats.unidentified++
    return null
  }

  async accept(dst, targetPort, sock) {
    this.stats.connections++
    sock.on('error', () => {})
    const src = await this.identify(sock, sock.localPort)
    if (this.blocked(src, dst)) return this.block(sock, src, dst)
    const upstream = createConnection({host: '127.0.0.1', port: targetPort})
    const conn = {src, dst, client: sock, upstream}
    this.open.add(conn)
    const done = () => {
      this.open.delete(conn)
      sock.destroy()
      upstream.destroy()
    }
    upstream.on('error', done)
    sock.on('error', done)
    upstream.on('close', done)
    sock.on('close', done)
    sock.pipe(upstream)
    upstream.pipe(sock)
    sock.resume()
  }

  block(sock, src, dst) {
    if (this.mode === 'drop') {
      this.stats.dropped++
      const conn = {src, dst, client: sock, upstream: undefined, dropped: true}
      this.open.add(conn)
      sock.on('data', () => {}) // swallowed: the sender waits for its own time-out
      sock.on('close', () => this.open.delete(conn))
      sock.resume()
      return
    }
    this.stats.refused++
    sock.resetAndDestroy()
  }

  /** Partitions the nodes into `sides` (arrays of labels); open connections across the cut are cut. */
  cut(sides) {
    this.side = new Map()
    sides.forEach((labels, i) => labels.forEach((l) => this.side.set(l, i)))
    for (const c of [...this.open]) {
      if (!c.dropped && this.blocked(c.src, c.dst)) {
        this.stats.cutOpen++
        this.open.delete(c)
        c.upstream?.destroy()
        if (this.mode === 'drop') c.client.destroy()
        else c.client.resetAndDestroy()
      }
    }
  }

  /** Ends the partition; black-holed connections are closed so their senders retry. */
  heal() {
    this.side = undefined
    for (const c of [...this.open]) {
      if (c.dropped) {
        this.open.delete(c)
        c.client.destroy()
      }
    }
  }

  async close() {
    this.heal()
    for (const c of [...this.open]) {
      c.client.destroy()
      c.upstream?.destroy()
    }
    this.open.clear()
    // A socket still being identified is not tracked yet: do not wait for it for ever.
    await Promise.race([Promise.all([...this.proxies.values()].map((p) => new Promise((r) => p.server.close(() => r())))), delay(2_000)])
    this.proxies.clear()
  }
}
