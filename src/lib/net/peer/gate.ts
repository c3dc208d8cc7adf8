// The limit on requests in flight, shared by a node's peer clients (and used by
// BulkClient for its own connections).

/** What this process's clients did about caps, for the node status. */
export const outgoingCounters = {retried: 0, gaveUp: 0, waitedForSlot: 0}

/**
 * A global cap on requests in flight to all peers together: with per-peer
 * pools of CONNECTIONS_PER_PEER this bounds the connections in use at once,
 * whatever the number of peers. Waiters are served in order.
 */
export class OutgoingGate {
  private active = 0
  private readonly waiting: Array<() => void> = []

  /** `count`: waits show in outgoingCounters (the node status); off for a client's own internal limits. */
  constructor(readonly max: number, private readonly count = true) {}

  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.active >= this.max) {
      if (this.count) outgoingCounters.waitedForSlot++
      await new Promise<void>((resolve, reject) => {
        const go = () => {
          signal?.removeEventListener('abort', stop)
          resolve()
        }
        const stop = () => {
          const i = this.waiting.indexOf(go)
          if (i >= 0) this.waiting.splice(i, 1)
          reject(signal!.reason)
        }
        if (signal?.aborted) return stop()
        signal?.addEventListener('abort', stop, {once: true})
        this.waiting.push(go)
      })
    } else this.active++
    let done = false
    return () => {
      if (done) return
      done = true
      const next = this.waiting.shift()
      if (next) next() // the slot passes on
      else this.active--
    }
  }

  counters(): {max: number; active: number; waiting: number} {
    return {max: this.max, active: this.active, waiting: this.waiting.length}
  }
}
