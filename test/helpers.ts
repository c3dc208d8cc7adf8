import {spawn} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
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

/** Runs the built CLI (bin/run.js) as a whole process, as a script would. */
export function runPolar(args: string[], opts: {home: string; input?: Uint8Array | string; env?: Record<string, string>; timeoutMs?: number}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: {...process.env, POLAR_HOME: opts.home, NO_COLOR: '1', ...opts.env},
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    const out: Buffer[] = []
    let err = ''
    child.stdout.on('data', (d) => out.push(d))
    child.stderr.on('data', (d) => (err += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({code, signal, stdout: Buffer.concat(out), stderr: err})
    })
    child.stdin.on('error', () => {})
    if (opts.input !== undefined) child.stdin.end(opts.input)
    else child.stdin.end()
  })
}

/** Parses the single JSON document a --json run prints. */
export function json(r: RunResult): any {
  return JSON.parse(r.stdout.toString('utf8'))
}
