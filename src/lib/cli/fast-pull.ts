import {toPolarError} from '../errors.js'
import {resolveHome} from '../home.js'
import {liveNodeSocket} from '../util/socket.js'
import {printError} from './report.js'

/**
 * `polar pull` through the node running on this home, without loading oclif:
 * the most common scripted call (and the start of every pull through a node)
 * skips about 40-50 ms of start-up, a third of a small pull's time
 * (docs/benchmarks.md). bin/run.js tries it first for `polar pull …`.
 *
 * Only the plain forms are taken: one CID, `-o FILE` / `--output FILE` /
 * `--output=FILE`, `--json` (with -o, to a stdout that is not a terminal and
 * without FORCE_COLOR: oclif may colour JSON there), `--home DIR` /
 * `--home=DIR`, no POLAR_NODE or POLAR_CONTENT_TYPE (oclif's other way to
 * ask for JSON), and a node answering on the home's socket. Anything else —
 * help, other flags, a repeated flag, no node — returns undefined and the
 * full CLI runs the command as usual. The pull itself is the command's own: LocalNodeClient.pull (client/local.ts),
 * the same output and the same errors and exit codes (printError).
 *
 * Returns the exit code, or undefined when the full CLI must run the command.
 */
export async function fastPull(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number | undefined> {
  if (env.POLAR_NODE || env.POLAR_CONTENT_TYPE) return undefined
  let cid: string | undefined
  let output: string | undefined
  let home: string | undefined
  let json = false
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    let flag = a
    let value: string | undefined
    const eq = a.indexOf('=')
    if (a.startsWith('--') && eq > 0) {
      flag = a.slice(0, eq)
      value = a.slice(eq + 1)
    }
    if (flag === '--json' && value === undefined) {
      if (json) return undefined
      json = true
    } else if (flag === '-o' || flag === '--output' || flag === '--home') {
      if (value === undefined) value = argv[++i]
      if (!value || value.startsWith('-')) return undefined
      if (flag === '--home') {
        if (home !== undefined) return undefined
        home = value
      } else {
        if (output !== undefined) return undefined
        output = value
      }
    } else if (a.startsWith('-') || cid !== undefined) {
      return undefined
    } else {
      cid = a
    }
  }
  if (cid === undefined || (json && (output === undefined || process.stdout.isTTY || env.FORCE_COLOR))) return undefined
  const socket = await liveNodeSocket(resolveHome(home, env))
  if (!socket) return undefined
  const {LocalNodeClient} = await import('../client/local.js')
  // As oclif does for every command: a reader that went away (`polar pull X --json -o f | head -c0`) is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => { if (err.code !== 'EPIPE') throw err })
  try {
    const result = await new LocalNodeClient(socket).pull({cid, output})
    if (json) process.stdout.write(JSON.stringify(result, null, 2) + '\n')
    return 0
  } catch (err) {
    const pe = toPolarError(err)
    printError(pe.code, pe.message, json, (err as Error)?.stack)
    return pe.exit
  }
}
