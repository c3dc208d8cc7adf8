// Whole-process timing: spawn a command, wait for it to exit, return the wall
// time seen by the parent (spawn to exit), exit code and captured output.
import {spawn, execFileSync} from 'node:child_process'
import {openSync} from 'node:fs'
import {performance} from 'node:perf_hooks'
import {fileURLToPath} from 'node:url'

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url))
/** The polar CLI the rows run: bin/run.js of the repo, or of the snapshot run.js takes. */
export let polarBin = fileURLToPath(new URL('../../bin/run.js', import.meta.url))
export function usePolarBin(path) { polarBin = path }

let devNull
const nullFd = () => (devNull ??= openSync('/dev/null', 'w'))

/** Environment for a child: the parent's, minus anything that would point polar at a node. */
export function childEnv(extra = {}) {
  const env = {...process.env, ...extra}
  delete env.POLAR_NODE
  delete env.NODE_OPTIONS
  return env
}

/**
 * Run `cmd args` once. stdout: 'pipe' (captured), or 'null' (to /dev/null).
 * Resolves {ms, code, signal, stdout, stderr}; never rejects on a non-zero exit
 * (use mustSucceed).
 */
export function timeProcess(cmd, args, {env = childEnv(), stdout = 'pipe', cwd = repoRoot} = {}) {
  return new Promise((resolve, reject) => {
    const out = []
    const err = []
    const t0 = performance.now()
    const child = spawn(cmd, args, {cwd, env, stdio: ['ignore', stdout === 'null' ? nullFd() : 'pipe', 'pipe']})
    let ms
    child.on('error', reject)
    child.on('exit', () => { ms = performance.now() - t0 })
    child.stdout?.on('data', (b) => out.push(b))
    child.stderr.on('data', (b) => err.push(b))
    child.on('close', (code, signal) => {
      resolve({ms, code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString()})
    })
  })
}

export function mustSucceed(r, what) {
  if (r.code !== 0) {
    throw new Error(`${what} exited with ${r.signal ?? r.code}${r.stderr ? `: ${r.stderr.trim().slice(-2000)}` : ''}`)
  }
  return r
}

/** Flush dirty pages so one run's deferred writeback does not land in the next run. */
export function syncDisks() {
  try { execFileSync('sync') } catch { /* best effort */ }
}

export const node = process.execPath
