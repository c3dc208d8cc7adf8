import {connect, type Socket} from 'node:net'
import type {CID} from 'multiformats/cid'
import {IntegrityError, NetworkError, PolarError} from '../../errors.js'
import {urlHost} from '../address.js'
import {type BulkFrame, FrameReader} from './frame-reader.js'
import {OutgoingGate} from './gate.js'

export type {BulkFrame} from './frame-reader.js'

/**
 * A small HTTP/1.1 client for one thing: bulk answers (`POST /v1/blocks/get`)
 * read by the kernel straight into the buffer they end up in. undici hands a
 * response over in 64 KiB chunks that must then be copied into place; here
 * the socket reads (net's `onread`) land in the answer buffer itself, so a
 * batch of blocks costs one kernel copy and a handful of callbacks.
 *
 * Deliberately narrow: plain http, requests one at a time per connection
 * (kept alive, at most `max` per peer), answers with a Content-Length (a
 * polar node always sends one for this route); anything else is a
 * NetworkError, and the fetcher then takes that batch's blocks one by one
 * (GET /v1/blocks/{cid}) through the general client. PeerTransport
 * (transport.ts) picks it for plain-http peers; https peers' batches go
 * through undici.
 */

/** Header bytes an answer may have before its body. */
const MAX_HEAD_BYTES = 16 * 1024
/** Error answers (not 200) are read up to this size, for their JSON message. */
const MAX_ERROR_BODY = 64 * 1024
/** Idle connections are closed after this: before a peer with Node's default keep-alive (5 s) closes them (polar nodes keep them 15 s). */
const IDLE_MS = 4_000

export interface BulkAnswer {
  status: number
  headers: Record<string, string>
  /** The body (empty for a 200 read as frames). */
  body: Buffer
  /** With `frames`: the blocks of a 200 answer, each in memory from `frames.alloc`. */
  frames?: BulkFrame[]
}

export interface BulkRequest {
  path: string
  body: Uint8Array
  contentType: string
  /** The largest 200 body accepted; a larger declared length is refused before it is read. */
  maxBytes: number
  /** Where a 200 body is read into (exactly its declared length). */
  alloc: (size: number) => Buffer
  /**
   * Read a 200 body as block frames (docs/protocol.md "Block batches") instead
   * (frame-reader.ts): each block's data goes straight into its own
   * `alloc(length)` memory (a pool slot: page-aligned, reused), checked and
   * hashed as it comes (BulkFrame.sha256).
   */
  frames?: {alloc: (size: number, cid: CID) => Buffer}
  signal?: AbortSignal
  timeoutMs: number
}

/** The request being answered on a connection: where the next read goes, and what to do with it. */
interface Reading {
  target(): Buffer
  got(n: number, buf: Buffer): void
  fail(err: Error): void
}

interface Conn {
  socket: Socket
  reading: Reading | undefined
  idleTimer: NodeJS.Timeout | undefined
  /** Answers completed on this connection (a failure before the first byte of a reused one is retried once). */
  served: number
}

export class BulkClient {
  private idle: Conn[] = []
  /** Every open connection, idle or answering (close() ends them all). */
  private readonly conns = new Set<Conn>()
  /** One request per connection, at most `max` connections. */
  private readonly slots: OutgoingGate
  private closed = false

  /**
   * `host` is the URL's host (sent as Host); `address`, when given, is the
   * one address every connection goes to (net/dial.ts: the address a check
   * looked at), else the host is resolved by net.connect as usual.
   */
  constructor(private readonly host: string, private readonly port: number, max = 4, private readonly address?: string) {
    this.slots = new OutgoingGate(max, false)
  }

  /** A bulk client for an http: origin, or undefined (https and the rest go through undici). */
  static for(origin: string, max?: number, address?: string): BulkClient | undefined {
    const u = new URL(origin)
    if (u.protocol !== 'http:') return undefined
    const host = urlHost(u)
    return new BulkClient(host, Number(u.port || 80), max, address)
  }

  async post(req: BulkRequest): Promise<BulkAnswer> {
    req.signal?.throwIfAborted()
    if (this.closed) throw new NetworkError('this client is closed')
    const done = await this.slots.acquire(req.signal)
    try {
      let conn = this.idle.pop()
      if (conn) {
        clearTimeout(conn.idleTimer)
        try {
          return await this.exchange(conn, req)
        } catch (err) {
          // A kept-alive connection the peer closed meanwhile fails before any answer: once more on a new one.
          if (!(err instanceof StaleConnection) || req.signal?.aborted) throw unwrap(err)
        }
      }
      conn = this.open()
      return await this.exchange(conn, req).catch((err) => { throw unwrap(err) })
    } finally {
      done()
    }
  }

  /** Closes every connection; requests in flight fail. */
  close(): void {
    this.closed = true
    for (const c of this.conns) c.socket.destroy()
    this.idle = []
  }

  private open(): Conn {
    const scratch = Buffer.allocUnsafe(MAX_HEAD_BYTES)
    const conn: Conn = {socket: undefined as unknown as Socket, reading: undefined, idleTimer: undefined, served: 0}
    conn.socket = connect({
      host: this.address ?? this.host,
      port: this.port,
      noDelay: true,
      onread: {
        // Between answers nothing may arrive: such bytes land in scratch and kill the connection.
        buffer: () => conn.reading?.target() ?? scratch,
        callback: (n, buf) => {
          if (conn.reading) conn.reading.got(n, buf as Buffer)
          else conn.socket.destroy()
          return true
        },
      },
    })
    this.conns.add(conn)
    const gone = (err?: Error) => {
      this.conns.delete(conn)
      clearTimeout(conn.idleTimer)
      const i = this.idle.indexOf(conn)
      if (i >= 0) this.idle.splice(i, 1)
      conn.reading?.fail(err ?? new Error('connection closed'))
    }
    conn.socket.on('error', gone)
    conn.socket.on('end', () => gone(new Error('connection closed by the peer')))
    conn.socket.on('close', () => gone())
    return conn
  }

  private release(conn: Conn, reusable: boolean): void {
    conn.reading = undefined
    conn.served++
    if (!reusable || this.closed || conn.socket.destroyed) {
      conn.socket.destroy()
      return
    }
    conn.idleTimer = setTimeout(() => {
      const i = this.idle.indexOf(conn)
      if (i >= 0) this.idle.splice(i, 1)
      conn.socket.destroy()
    }, IDLE_MS)
    conn.idleTimer.unref()
    conn.socket.unref()
    this.idle.push(conn)
  }

  private exchange(conn: Conn, req: BulkRequest): Promise<BulkAnswer> {
    const where = `http://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}${req.path}`
    const reused = conn.served > 0
    const socket = conn.socket
    socket.ref()
    return new Promise<BulkAnswer>((resolve, reject) => {
      let head = Buffer.allocUnsafe(0)
      let headDone = false
      let status = 0
      let headers: Record<string, string> = {}
      let keepAlive = true
      let body: Buffer | undefined
      let filled = 0
      /** Frame mode: the reader of a 200 answer's block frames. */
      let reader: FrameReader | undefined
      let sawBytes = false
      let settled = false
      const scratch = Buffer.allocUnsafe(MAX_HEAD_BYTES)

      const timeout = AbortSignal.timeout(req.timeoutMs)
      const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout
      const onAbort = () => finish(signal.reason instanceof Error ? signal.reason : new Error('aborted'))
      signal.addEventListener('abort', onAbort, {once: true})

      const finish = (err: Error | undefined) => {
        if (settled) return
        settled = true
        signal.removeEventListener('abort', onAbort)
        if (err) {
          conn.reading = undefined
          socket.destroy()
          if (reused && !sawBytes && !(req.signal?.aborted) && !timeout.aborted) reject(new StaleConnection(err))
          else if (err instanceof PolarError || req.signal?.aborted) reject(err)
          else reject(new NetworkError(`${where}: ${err.message}`, {cause: err}))
          return
        }
        this.release(conn, keepAlive)
        resolve(reader ? {status, headers, body: Buffer.alloc(0), frames: reader.frames} : {status, headers, body: body!})
      }

      const startBody = (rest: Buffer) => {
        const declared = headers['content-length']
        if (headers['transfer-encoding'] || declared === undefined || !/^\d{1,10}$/.test(declared)) return finish(new NetworkError(`${where}: answer without a Content-Length`))
        const length = Number(declared)
        const limit = status === 200 ? req.maxBytes : MAX_ERROR_BODY
        if (length > limit) return finish(new IntegrityError(`${where}: response of ${length} bytes is over the ${limit}-byte limit`))
        if (rest.length > length) return finish(new NetworkError(`${where}: more bytes than the declared ${length}`))
        if (status === 200 && req.frames) {
          if (length === 1) return finish(new IntegrityError(`${where}: truncated block frame`))
          reader = new FrameReader(where, length, req.frames.alloc, finish)
          if (length === 0) return finish(undefined)
          return reader.feed(rest)
        }
        body = status === 200 && length > 0 ? req.alloc(length) : Buffer.allocUnsafe(length)
        rest.copy(body, 0)
        filled = rest.length
        if (filled === length) finish(undefined)
      }

      const parseHead = (end: number) => {
        const lines = head.subarray(0, end).toString('latin1').split('\r\n')
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0])
        if (!m) return finish(new NetworkError(`${where}: not an HTTP/1.1 answer`))
        status = Number(m[1])
        headers = {}
        for (let i = 1; i < lines.length; i++) {
          const c = lines[i].indexOf(':')
          if (c <= 0) return finish(new NetworkError(`${where}: malformed header line`))
          const name = lines[i].slice(0, c).trim().toLowerCase()
          const value = lines[i].slice(c + 1).trim()
          // Two different lengths are a smuggling attempt, not an answer.
          if (name === 'content-length' && headers[name] !== undefined && headers[name] !== value) return finish(new NetworkError(`${where}: conflicting Content-Length headers`))
          headers[name] = value
        }
        keepAlive = !/\bclose\b/i.test(headers.connection ?? '') && lines[0].startsWith('HTTP/1.1')
        headDone = true
        startBody(head.subarray(end + 4))
      }

      conn.reading = {
        // Frame mode reads exactly the rest of the current part, so each block lands in its own memory.
        target: () => (!headDone ? scratch : reader ? reader.target() : body ? body.subarray(filled) : scratch),
        got: (n, buf) => {
          if (settled) return
          sawBytes = true
          if (headDone && reader) return reader.got(n)
          if (headDone) {
            filled += n
            if (filled === body!.length) finish(undefined)
            return
          }
          head = Buffer.concat([head, buf.subarray(0, n)])
          const end = head.indexOf('\r\n\r\n')
          if (end >= 0) parseHead(end)
          else if (head.length >= MAX_HEAD_BYTES) finish(new NetworkError(`${where}: answer headers over ${MAX_HEAD_BYTES} bytes`))
        },
        fail: (err) => finish(err),
      }

      const host = this.host.includes(':') ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`
      socket.cork()
      socket.write(`POST ${req.path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: ${req.contentType}\r\nContent-Length: ${req.body.length}\r\n\r\n`, 'latin1')
      socket.write(req.body)
      socket.uncork()
    })
  }
}

/** A reused connection that failed before its answer began (the peer had closed it). */
class StaleConnection extends Error {
  constructor(readonly inner: Error) {
    super(inner.message)
  }
}

function unwrap(err: unknown): unknown {
  return err instanceof StaleConnection ? new NetworkError(err.inner.message, {cause: err.inner}) : err
}
