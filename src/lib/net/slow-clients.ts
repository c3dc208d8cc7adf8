import type {IncomingMessage, ServerResponse} from 'node:http'
import type {Socket} from 'node:net'
import {sendJson} from './http.js'

/**
 * Requests in hand whose client holds the slot without using it (issue 20
 * point 7, 8): a body that trickles in (one byte every few seconds), or an
 * answer nobody reads. Node times out a request head (headersTimeout) but not
 * a slow body short of requestTimeout (whole minutes), and never an answer the
 * client does not read; a slot held that way is a slot others do not get.
 * Checked once a second for every request in hand; each such connection is cut.
 */
export interface SlowClientRules {
  /** A body must bring at least minBodyBytesPerSecond × this in every window this long. */
  bodyTimeoutMs: number
  minBodyBytesPerSecond: number
  /** An answer the client takes nothing of (not one write handed to the kernel) for this long is cut off. */
  answerStallMs: number
}

interface Watched {
  /** The answer is out (or was never ours to watch): only the rest of the body is watched, until it is in. */
  answered: boolean
  req: IncomingMessage
  res: ServerResponse
  socket: Socket
  /** Body: socket bytes read at the start of the current window, and when it started. */
  bodyFrom: number
  bodyAt: number
  /** Answer: bytes the kernel has taken on this socket so far, and when that last grew (or nothing was queued). */
  sent: number
  sentAt: number
}

/** How often the requests in hand are looked at. */
export const SWEEP_MS = 1_000

export class SlowClients {
  private readonly watched = new Set<Watched>()
  private timer?: NodeJS.Timeout

  constructor(private readonly rules: SlowClientRules, private readonly cut: (kind: 'slowBody' | 'stalledAnswer') => void) {}

  /**
   * Watches a request's body and answer from now until `answered()` (its
   * answer finished, or it was refused). After that, a body still arriving is
   * watched on until it is in: Node reads (and drops) the rest of a body
   * answered early, and a body trickling in then would hold the connection
   * for ever (Node's own requestTimeout is off, slow-clients replace it).
   */
  watch(req: IncomingMessage, res: ServerResponse): () => void {
    const socket = req.socket
    const now = Date.now()
    const w: Watched = {answered: false, req, res, socket, bodyFrom: socket.bytesRead, bodyAt: now, sent: written(socket), sentAt: now}
    this.watched.add(w)
    if (!this.timer) {
      this.timer = setInterval(() => this.sweep(), SWEEP_MS)
      this.timer.unref()
    }
    const forget = () => {
      this.watched.delete(w)
      if (this.watched.size === 0 && this.timer) {
        clearInterval(this.timer)
        this.timer = undefined
      }
    }
    return () => {
      if (w.answered) return
      w.answered = true
      if (req.complete || socket.destroyed) return forget()
      req.resume() // nobody needs the rest now: read and drop it (so its pace is the client's alone)
      req.once('end', forget)
      socket.once('close', forget)
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    this.watched.clear()
  }

  sweep(now = Date.now()): void {
    const {bodyTimeoutMs, minBodyBytesPerSecond, answerStallMs} = this.rules
    for (const w of this.watched) {
      if (w.socket.destroyed) continue
      if (!w.req.complete) {
        // Only the client's slowness counts: while the handler has not taken
        // what arrived (its buffer is full and the socket paused), no new bytes
        // are read, through no fault of the client.
        const waitingForUs = w.req.readableLength >= w.req.readableHighWaterMark
        const got = w.socket.bytesRead - w.bodyFrom
        if (waitingForUs || got >= (minBodyBytesPerSecond * bodyTimeoutMs) / 1000) {
          w.bodyFrom = w.socket.bytesRead
          w.bodyAt = now
        } else if (now - w.bodyAt >= bodyTimeoutMs) {
          this.cut('slowBody')
          cutOff(w, true)
          continue
        }
      }
      if (w.answered) continue
      const sent = written(w.socket)
      if (w.socket.writableLength === 0 || sent > w.sent) {
        w.sent = sent
        w.sentAt = now
      } else if (now - w.sentAt >= answerStallMs) {
        this.cut('stalledAnswer')
        cutOff(w, false)
      }
    }
  }
}

/** Bytes the kernel has taken on a socket: everything written to it, less what still waits in node. */
function written(socket: Socket): number {
  return (socket.bytesWritten ?? 0) - socket.writableLength
}

/** A slow body gets 408 when nothing was answered yet (then the connection closes); a stalled answer is cut at once. */
function cutOff(w: Watched, tell: boolean): void {
  if (tell && !w.res.headersSent && !w.res.destroyed) {
    sendJson(w.res, 408, {error: {code: 'REQUEST_TIMEOUT', message: 'the request body arrived too slowly; send it at a steady pace'}}, {connection: 'close'})
    setTimeout(() => w.socket.destroy(), 1_000).unref()
    return
  }
  w.socket.destroy()
}
