// Real polar nodes for multi-node tests: each one is `node bin/run.js serve`
// as a child process with its own POLAR_HOME, on 127.0.0.1:0. A Cluster
// always stops what it started (SIGTERM, then SIGKILL) and removes the homes;
// an exit hook kills any child a crashed test left behind.
import {spawn, type ChildProcess} from 'node:child_process'
import {copyFileSync, cpSync, existsSync, mkdtempSync, rmSync, statSync, symlinkSync} from 'node:fs'
import {request as httpRequest} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as delay} from 'node:timers/promises'
import {BIN, json, ROOT, tmpHome, type RunResult} from '../helpers.js'

/**
 * The CLI these tests run: a private copy of the build (bin, dist, manifest,
 * package.json; node_modules linked), taken once per test process. Other
 * engineers rebuild in the same work tree (`rm -rf dist` first), which would
 * otherwise pull the CLI away from under a running multi-node test. Set
 * POLAR_TEST_NO_SNAPSHOT=1 to run bin/run.js in place.
 */
export const CLI = process.env.POLAR_TEST_NO_SNAPSHOT ? BIN : snapshotBuild()

function snapshotBuild(): string {
  const index = join(ROOT, 'dist', 'index.js')
  const manifest = join(ROOT, 'oclif.manifest.json')
  const mtime = (p: string) => (existsSync(p) ? statSync(p).mtimeMs : -1)
  const deadline = Date.now() + 120_000
  for (;;) {
    // The build writes dist, then the manifest last: a manifest older than dist/index.js means a build is under way.
    const built = mtime(index)
    if (built > 0 && mtime(manifest) >= built) {
      const dir = mkdtempSync(join(tmpdir(), 'polar-cli-'))
      try {
        cpSync(join(ROOT, 'bin'), join(dir, 'bin'), {recursive: true})
        cpSync(join(ROOT, 'dist'), join(dir, 'dist'), {recursive: true})
        copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'))
        copyFileSync(manifest, join(dir, 'oclif.manifest.json'))
        symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir')
        if (mtime(index) === built && mtime(manifest) >= built) {
          process.once('exit', () => rmSync(dir, {recursive: true, force: true}))
          return join(dir, 'bin', 'run.js')
        }
      } catch {}
      rmSync(dir, {recursive: true, force: true}) // a rebuild started while copying: try again
    }
    if (Date.now() > deadline) throw new Error(`no complete build in ${ROOT}/dist: run \`npm run build\` first`)
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250)
  }
}

/** Runs the CLI as a whole process on `home`, as a script would (like helpers.runPolar, on the snapshot). */
export function runPolar(args: string[], opts: {home: string; input?: Uint8Array | string; env?: Record<string, string>; timeoutMs?: number}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: {...process.env, POLAR_HOME: opts.home, NO_COLOR: '1', POLAR_NODE: '', ...opts.env},
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    const out: Buffer[] = []
    let err = ''
    child.stdout.on('data', (d) => out.push(d))
    child.stderr.on('data', (d) => (err += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 90_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({code, signal, stdout: Buffer.concat(out), stderr: err})
    })
    child.stdin.on('error', () => {})
    child.stdin.end(opts.input)
  })
}

/** Fast loops so that tests see liveness and repair within seconds. */
export const SERVE_ARGS = ['--listen', '127.0.0.1:0', '--json', '--repair-interval', '1', '--ping-interval', '1']
/** How long a node may take to print its ready line (two cores, several nodes starting at once). */
export const READY_TIMEOUT_MS = 30_000
/** Grace between SIGTERM and SIGKILL. */
export const STOP_GRACE_MS = 8_000

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

export interface ReadyLine {
  event: string
  did: string
  url: string
  socket: string
}

const children = new Set<ChildProcess>()
process.once('exit', () => {
  for (const c of children) {
    try {
      c.kill('SIGKILL')
    } catch {}
  }
})

/** A running `polar serve`. */
export class NodeProcess {
  readonly exited: Promise<Exit>
  private err = ''
  private out = ''
  private exit: Exit | undefined

  private constructor(readonly home: string, readonly child: ChildProcess, readonly ready: ReadyLine, out: string, err: string, exited: Promise<Exit>) {
    this.out = out
    this.err = err
    this.exited = exited.then((e) => (this.exit = e))
    child.stdout!.on('data', (d) => (this.out += d))
    child.stderr!.on('data', (d) => {
      this.err += d
      if (this.err.length > 256 * 1024) this.err = this.err.slice(-128 * 1024)
    })
  }

  get did(): string { return this.ready.did }
  get url(): string { return this.ready.url }
  get socket(): string { return this.ready.socket }
  get pid(): number { return this.child.pid! }
  get running(): boolean { return this.exit === undefined }
  /** Everything on stdout so far (the ready line first). */
  stdout(): string { return this.out }
  /** The node's log (stderr), for assertions and failure messages. */
  stderr(): string { return this.err }

  /** Starts `polar serve` on `home` and waits for its ready line. */
  /** `prefix` runs the node under another command (e.g. `ip netns exec NS` for the NAT test). */
  static start(home: string, extraArgs: string[] = [], env: Record<string, string> = {}, prefix: string[] = []): Promise<NodeProcess> {
    const base = extraArgs.includes('--listen') ? SERVE_ARGS.filter((a, i) => a !== '--listen' && SERVE_ARGS[i - 1] !== '--listen') : SERVE_ARGS
    const argv = [...prefix.slice(1), process.execPath, CLI, 'serve', ...base, ...extraArgs]
    const child = spawn(prefix[0] ?? process.execPath, prefix.length ? argv : argv.slice(1), {
      env: {...process.env, POLAR_HOME: home, NO_COLOR: '1', POLAR_NODE: '', ...env},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    children.add(child)
    const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => {
      children.delete(child)
      resolve({code, signal})
    }))
    return new Promise((resolve, reject) => {
      let out = ''
      let err = ''
      const onOut = (d: Buffer) => {
        out += d
        const nl = out.indexOf('\n')
        if (nl < 0) return
        finish()
        try {
          const ready = JSON.parse(out.slice(0, nl)) as ReadyLine
          resolve(new NodeProcess(home, child, ready, out, err, exited))
        } catch {
          child.kill('SIGKILL')
          reject(new Error(`serve on ${home} printed a first line that is not JSON: ${out.slice(0, nl)}\n${err}`))
        }
      }
      const onErr = (d: Buffer) => (err += d)
      const onExit = (e: Exit) => {
        finish()
        reject(new Error(`serve on ${home} exited (${e.code ?? e.signal}) before it was ready:\n${err}`))
      }
      const timer = setTimeout(() => {
        finish()
        child.kill('SIGKILL')
        reject(new Error(`serve on ${home} printed no ready line within ${READY_TIMEOUT_MS} ms:\n${err}`))
      }, READY_TIMEOUT_MS)
      const finish = () => {
        clearTimeout(timer)
        child.stdout!.off('data', onOut)
        child.stderr!.off('data', onErr)
        exited.then(() => {}) // keep the promise observed
      }
      child.stdout!.on('data', onOut)
      child.stderr!.on('data', onErr)
      exited.then((e) => { if (out.indexOf('\n') < 0) onExit(e) })
    })
  }

  /** SIGTERM, then SIGKILL if the node has not exited after STOP_GRACE_MS. */
  async stop(graceMs = STOP_GRACE_MS): Promise<Exit> {
    if (this.exit) return this.exit
    this.child.kill('SIGTERM')
    const grace = new AbortController()
    const timer = delay(graceMs, 'timeout' as const, {signal: grace.signal}).catch(() => 'stopped' as const)
    const first = await Promise.race([this.exited, timer])
    grace.abort()
    if (first === 'timeout') this.child.kill('SIGKILL')
    return this.exited
  }

  /** SIGKILL: the node gets no chance to clean up (socket, leases, in-flight writes). */
  async kill(): Promise<Exit> {
    if (this.exit) return this.exit
    this.child.kill('SIGKILL')
    return this.exited
  }

  /** Runs the CLI on this node's home (so it goes through the node's socket). */
  polar(args: string[], opts: {input?: Uint8Array | string; timeoutMs?: number; env?: Record<string, string>} = {}): Promise<RunResult> {
    return runPolar(args, {home: this.home, timeoutMs: 90_000, ...opts})
  }
}

/** A set of nodes started for one test file; `stop()` in after() stops them and removes their homes. */
export class Cluster {
  readonly nodes: NodeProcess[] = []
  private readonly cleanups: Array<() => void> = []

  /** A fresh home this cluster removes when it stops. */
  home(prefix = 'polar-node-'): string {
    const {home, cleanup} = tmpHome(prefix)
    this.cleanups.push(cleanup)
    return home
  }

  async start(home = this.home(), extraArgs: string[] = []): Promise<NodeProcess> {
    const node = await NodeProcess.start(home, extraArgs)
    this.nodes.push(node)
    return node
  }

  /** Starts `n` nodes at once, each with a fresh home. */
  startMany(n: number, extraArgs: string[] = []): Promise<NodeProcess[]> {
    return Promise.all(Array.from({length: n}, () => this.start(this.home(), extraArgs)))
  }

  /** `polar peers add` on a's home with b's URL: both record each other. */
  static async join(a: NodeProcess, b: NodeProcess): Promise<void> {
    const r = await a.polar(['peers', 'add', b.url, '--json'])
    if (r.code !== 0) throw new Error(`peers add ${b.url} on ${a.url} exited ${r.code}: ${r.stdout}${r.stderr}`)
    const peer = json(r)
    if (peer.did !== b.did) throw new Error(`peers add ${b.url} learned ${peer.did}, expected ${b.did}`)
  }

  /** Joins every pair (i < j) with `peers add`, a few CLI runs at a time. */
  static async mesh(nodes: NodeProcess[], concurrency = 4): Promise<void> {
    const pairs: Array<[NodeProcess, NodeProcess]> = []
    for (let i = 0; i < nodes.length; i++) for (let j = i + 1; j < nodes.length; j++) pairs.push([nodes[i], nodes[j]])
    const work = pairs.slice()
    await Promise.all(Array.from({length: concurrency}, async () => {
      for (let p = work.shift(); p; p = work.shift()) await Cluster.join(p[0], p[1])
    }))
  }

  /** Stops every node still running (SIGTERM, SIGKILL fallback), then removes the homes. */
  async stop(): Promise<void> {
    await Promise.allSettled(this.nodes.map((n) => n.stop()))
    for (const c of this.cleanups.splice(0)) {
      try {
        c()
      } catch {}
    }
  }

  /** The node logs, to attach to a failure message. */
  logs(): string {
    return this.nodes.map((n) => `--- ${n.url} ${n.did}\n${n.stderr().slice(-4000)}`).join('\n')
  }
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes; then throws with `what`. */
export async function waitFor<T>(what: string, check: () => Promise<T> | T, {timeoutMs = 30_000, intervalMs = 200} = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await check()
      if (v) return v as NonNullable<T>
      last = v
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`)
    await delay(intervalMs)
  }
}

/** POST /v1/blocks/has on a node's public API. */
export async function hasBlocks(url: string, cids: string[]): Promise<boolean[]> {
  const res = await fetch(`${url}/v1/blocks/has`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify({cids}), signal: AbortSignal.timeout(5_000)})
  if (res.status !== 200) throw new Error(`has on ${url}: HTTP ${res.status}`)
  return (await res.json() as {have: boolean[]}).have
}

/** A request to a node's local API over its unix socket. */
export function localApi(socket: string, method: string, path: string, body?: unknown): Promise<{status: number; body: any}> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    const req = httpRequest({socketPath: socket, method, path, headers: data ? {'content-type': 'application/json', 'content-length': data.length} : {}}, (res) => {
      const parts: Buffer[] = []
      res.on('data', (d) => parts.push(d))
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8')
        let parsed: unknown = text
        try {
          parsed = JSON.parse(text)
        } catch {}
        resolve({status: res.statusCode!, body: parsed})
      })
      res.on('error', reject)
    })
    req.setTimeout(10_000, () => req.destroy(new Error(`local API ${method} ${path}: timeout`)))
    req.on('error', reject)
    req.end(data)
  })
}

/** The pack file a block lives in. */
export function packPath(home: string, pack: number): string {
  return join(home, 'blocks', `pack-${String(pack).padStart(6, '0')}`)
}
