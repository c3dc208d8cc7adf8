// Latency of small requests to a server while it is busy (issue 15 point 1):
// one client sending probes one after another, each on a fresh connection
// from its own loopback address (127.0.0.2 by default: another client, which
// shares neither the busy transfer's connections nor its address's caps),
// until stopped. A probe that fails (an error, a status other than 200, or no
// answer within PROBE_TIMEOUT_MS) counts as taking the whole time-out: a
// refused request is no answer to the user.
import {request} from 'node:http'
import {performance} from 'node:perf_hooks'

export const PROBE_TIMEOUT_MS = 10_000

function once(url, localAddress) {
  return new Promise((resolve) => {
    const t0 = performance.now()
    const done = (ok, status) => resolve({t0, ms: performance.now() - t0, ok, status})
    const req = request(url, {agent: false, localAddress, headers: {connection: 'close'}}, (res) => {
      res.on('data', () => {})
      res.on('end', () => done(res.statusCode === 200, res.statusCode))
      res.on('error', (e) => done(false, e.code ?? String(e)))
    })
    req.setTimeout(PROBE_TIMEOUT_MS, () => req.destroy(Object.assign(new Error('timeout'), {code: 'TIMEOUT'})))
    req.on('error', (e) => done(false, e.code ?? String(e)))
    req.end()
  })
}

/**
 * Probe `urls` in turn (url 0, url 1, url 0, …) with `gapMs` between the end
 * of one probe and the start of the next, until stop(). stop() resolves
 * {samples: [{url, t0, ms, ok, status}]} (t0: performance.now() at its
 * start); a failed probe has ms = PROBE_TIMEOUT_MS.
 */
export function startProber(urls, {gapMs = 5, localAddress = '127.0.0.2'} = {}) {
  const samples = []
  let stopping = false
  const loop = (async () => {
    for (let i = 0; !stopping; i++) {
      const url = urls[i % urls.length]
      const r = await once(url, localAddress)
      samples.push({url, t0: r.t0, ms: r.ok ? r.ms : Math.max(r.ms, PROBE_TIMEOUT_MS), ok: r.ok, status: r.status})
      if (!stopping && gapMs > 0) await new Promise((res) => setTimeout(res, gapMs))
    }
  })()
  return {
    async stop() {
      stopping = true
      await loop
      return {samples}
    },
  }
}

/** The q-quantile (0..1) of xs, nearest rank: the smallest x with at least q of the samples at or below it. */
export function quantile(xs, q) {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]
}

/** Answers `url` with 200 from `localAddress`? Resolves null, or what went wrong. */
export async function probeOnce(url, {localAddress = '127.0.0.2'} = {}) {
  const r = await once(url, localAddress)
  return r.ok ? null : `GET ${url} from ${localAddress}: ${r.status}`
}
