import {connect} from 'node:net'

/** True when something answers on the unix socket (a live node), false when it is stale or absent. */
export function socketIsLive(path: string, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path)
    const done = (live: boolean) => {
      s.destroy()
      resolve(live)
    }
    s.once('connect', () => done(true))
    s.once('error', () => done(false))
    s.setTimeout(timeoutMs, () => done(false))
  })
}
