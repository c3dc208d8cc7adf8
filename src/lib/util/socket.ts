import {existsSync} from 'node:fs'
import {connect} from 'node:net'
import {join} from 'node:path'

/** The local API's socket in POLAR_HOME while a node runs there. */
export const SOCKET_NAME = 'polar.sock'

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

/** The socket of the node running on `home` when one answers there; undefined when there is none, or only a stale socket file. */
export async function liveNodeSocket(home: string): Promise<string | undefined> {
  const socket = join(home, SOCKET_NAME)
  return existsSync(socket) && (await socketIsLive(socket)) ? socket : undefined
}
