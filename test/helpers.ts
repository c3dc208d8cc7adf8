import {spawn, type ChildProcess} from 'node:child_process'
import {createHash, randomBytes} from 'node:crypto'
import {closeSync, createReadStream, mkdtempSync, openSync, rmSync, writeSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

export const ROOT = fileURLToPath(new URL('..', import.meta.url))
export const BIN = join(ROOT, 'bin', 'run.js')

/** A fresh POLAR_HOME; call the returned cleanup in an after() hook. */
export function tmpHome(prefix = 'polar-test-'): {home: string; cleanup: () => void} {
  const home = mkdtempSync(join(tmpdir(), prefix))
  return {home, cleanup: () => rmSync(home, {recursive: true, force: true})}
}

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: Buffer
  stderr: string
}

export interface RunOptions {
  home: string
  input?: Uint8Array | string
  env?: Record<string, string>
  timeoutMs?: number
}

/** Runs the built CLI (bin/run.js) as a whole process, as a script would. */
export function runPolar(args: string[], opts: RunOptions): Promise<RunResult> {
  return spawnPolar(args, opts).result
}

/** Like runPolar, but hands back the child too (to signal it mid-way). */
export function spawnPolar(args: string[], opts: RunOptions): {child: ChildProcess; result: Promise<RunResult>} {
  let child!: ChildProcess
  const result = new Promise<RunResult>((resolve, reject) => {
    child = spawn(process.execPath, [BIN, ...args], {
      env: {...process.env, POLAR_HOME: opts.home, NO_COLOR: '1', ...opts.env},
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    const out: Buffer[] = []
    let err = ''
    child.stdout!.on('data', (d) => out.push(d))
    child.stderr!.on('data', (d) => (err += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({code, signal, stdout: Buffer.concat(out), stderr: err})
    })
    child.stdin!.on('error', () => {})
    if (opts.input !== undefined) child.stdin!.end(opts.input)
    else child.stdin!.end()
  })
  return {child, result}
}

/** Hex sha2-256 of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(path, {highWaterMark: 1 << 20})) h.update(chunk)
  return h.digest('hex')
}

/** Writes `size` random bytes to `path` in 8 MiB pieces; returns their sha2-256. */
export function writeRandomFile(path: string, size: number): string {
  const h = createHash('sha256')
  const fd = openSync(path, 'w')
  try {
    for (let done = 0; done < size;) {
      const piece = randomBytes(Math.min(8 << 20, size - done))
      h.update(piece)
      for (let off = 0; off < piece.length;) off += writeSync(fd, piece, off, piece.length - off)
      done += piece.length
    }
  } finally {
    closeSync(fd)
  }
  return h.digest('hex')
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** Parses the single JSON document a --json run prints. */
export function json(r: RunResult): any {
  return JSON.parse(r.stdout.toString('utf8'))
}
