// Running polar nodes for the rows that need them: `polar serve --listen
// 127.0.0.1:0 --json` on a home, waiting for its ready line, and stopping it
// (SIGTERM, then SIGKILL if it does not exit). Always started outside the
// timed part of a row.
import {spawn} from 'node:child_process'
import {request} from 'node:http'
import {childEnv, mustSucceed, node, polarBin, timeProcess} from './proc.js'

/**
 * `polar serve` flags for the bench nodes: one replica, repair passes an hour
 * apart, so a node never places an object on another by itself (a pull row
 * would otherwise find the object already there).
 */
export const SERVE_ARGS = ['--replicas', '1', '--repair-interval', '3600']

// A node is ready in about a second on the idle machine; on the shared one
// (load 30+ on two cores) one took over 30 s. Waiting longer costs nothing
// when it starts, and a row that fails for a slow start measures nothing.
const READY_TIMEOUT_MS = 120_000
const STOP_TIMEOUT_MS = 10_000

/**
 * Start a node on `home`. serveArgs: extra `polar serve` flags; nodeArgs: flags
 * for node itself (e.g. --cpu-prof); readyTimeoutMs: how long to wait for the
 * ready line (longer when dozens start at once on two cores). Resolves {did,
 * url, socket, home, pid, stderr(), stop()}.
 */
export function startNode(home, {serveArgs = [], nodeArgs = [], readyTimeoutMs = READY_TIMEOUT_MS} = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(node, [...nodeArgs, polarBin, 'serve', '--listen', '127.0.0.1:0', '--json', ...serveArgs], {
      env: childEnv({POLAR_HOME: home}),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let err = ''
    let out = ''
    let ready = false
    let exited = null
    const exit = new Promise((r) => child.on('exit', (code, signal) => { exited = {code, signal}; r(exited) }))
    child.stderr.on('data', (b) => { err = (err + b).slice(-20_000) })
    const fail = (why) => {
      if (ready) return
      ready = true
      clearTimeout(timer)
      if (exited == null) child.kill('SIGKILL')
      reject(new Error(`polar serve on ${home} ${why}${err ? `: ${err.trim().slice(-2000)}` : ''}`))
    }
    const timer = setTimeout(() => fail(`printed no ready line within ${readyTimeoutMs / 1000} s`), readyTimeoutMs)
    child.on('error', (e) => fail(`could not start (${e.message})`))
    exit.then(({code, signal}) => fail(`exited with ${signal ?? code} before it was ready`))
    child.stdout.on('data', (b) => {
      if (ready) return
      out += b
      const nl = out.indexOf('\n')
      if (nl < 0) return
      let msg
      try { msg = JSON.parse(out.slice(0, nl)) } catch { return fail(`printed ${JSON.stringify(out.slice(0, 200))} instead of a JSON ready line`) }
      if (msg.event !== 'ready' || !msg.url || !msg.did) return fail(`printed ${JSON.stringify(msg)} instead of a ready line`)
      ready = true
      clearTimeout(timer)
      resolve({
        ...msg,
        home,
        pid: child.pid,
        stderr: () => err,
        /** SIGTERM, wait for exit (SIGKILL after a timeout); resolves {code, signal}. */
        async stop() {
          if (exited) return exited
          child.kill('SIGTERM')
          const t = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
          const r = await exit
          clearTimeout(t)
          return r
        },
      })
    })
  })
}

/** `polar peers add URL` on `home` (through the node running there): both nodes record each other. */
export async function joinPeer(home, url) {
  mustSucceed(await timeProcess(node, [polarBin, 'peers', 'add', url], {env: childEnv({POLAR_HOME: home})}), `polar peers add ${url}`)
}

/** GET `path` of a node's local API (its unix socket); resolves the parsed JSON answer, rejects on a non-200 answer. */
export function localGet(socket, path, {timeoutMs = 10_000} = {}) {
  return new Promise((resolve, reject) => {
    const req = request({socketPath: socket, path}, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (body += d))
      res.on('error', reject)
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`${path}: ${res.statusCode} ${body.slice(0, 300)}`))
        try { resolve(JSON.parse(body)) } catch (e) { reject(e) }
      })
    })
    req.on('error', reject)
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`${path}: no answer within ${timeoutMs / 1000} s`)))
    req.end()
  })
}

/** The peers a node lists as alive (its own did left out). */
export async function alivePeers(node) {
  const {peers} = await localGet(node.socket, '/api/v1/peers')
  return peers.filter((p) => p.state === 'alive' && p.did !== node.did)
}
