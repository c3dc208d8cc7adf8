import {Command, Flags, type Interfaces} from '@oclif/core'
import {EXIT, PolarError, toPolarError} from '../errors.js'
import {resolveHome, secureHome} from '../home.js'
import {printError} from './report.js'
import {usageMessage} from './usage.js'
import type {PolarClient} from '../client/index.js'
import type {Store} from '../store/store.js'

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof PolarCommand)['baseFlags'] & T['flags']>

/**
 * The shared base of every polar command (STYLE.md rule 3): the common flags,
 * the context a command acts on, and the mapping of library errors to the
 * exit codes and `--json` error shape of CLI.md.
 */
export abstract class PolarCommand extends Command {
  static override enableJsonFlag = true

  static override baseFlags = {
    home: Flags.string({
      description: 'directory with keys, store and socket [default: $POLAR_HOME, else $XDG_DATA_HOME/polar, else ~/.local/share/polar]',
      helpGroup: 'GLOBAL',
    }),
    node: Flags.string({
      description: 'act against this node: its public URL (http://host:port) or its socket path',
      env: 'POLAR_NODE',
      helpGroup: 'GLOBAL',
    }),
  }

  private readonly clients: PolarClient[] = []

  /**
   * POLAR_HOME for this invocation (the --home flag wins over the environment),
   * created if needed; files and directories in it open to other users are
   * closed, with a warning on stderr (secureHome).
   */
  protected resolveHome(flags: {home?: string}): string {
    const home = resolveHome(flags.home)
    for (const w of secureHome(home)) this.warnOnce(w)
    return home
  }

  private readonly warned = new Set<string>()

  /** A warning on stderr (also under --json: stdout carries only the result). */
  protected warnOnce(message: string): void {
    if (this.warned.has(message)) return
    this.warned.add(message)
    process.stderr.write(`polar: warning: ${message}\n`)
  }

  /**
   * What the command acts on (client/index.ts, openClient): --node/POLAR_NODE
   * (a URL: that node's public API; a path: that node's socket), else the node
   * running on this home (its socket answers), else the embedded store. The
   * client is closed when the command finishes.
   */
  protected async client(flags: {home?: string; node?: string}): Promise<PolarClient> {
    const home = this.resolveHome(flags)
    const {openClient} = await import('../client/index.js')
    const client = await openClient({home, node: flags.node, warn: (m) => this.warnOnce(m)})
    this.clients.push(client)
    return client
  }

  /**
   * This home's store opened in-process, whatever runs on it (`polar repair`
   * works on the store directly), closed when the command finishes.
   */
  protected async openStore(home: string): Promise<Store> {
    const {EmbeddedClient} = await import('../client/embedded.js')
    const client = new EmbeddedClient({home, warn: (m) => this.warnOnce(m), checkPacks: this.id !== 'repair'})
    this.clients.push(client)
    return client.store()
  }

  /** Human output on stderr (progress, notes); stdout carries results only. */
  protected note(message: string): void {
    if (!this.jsonEnabled()) process.stderr.write(message + '\n')
  }

  protected override async finally(err: Error | undefined): Promise<unknown> {
    await Promise.allSettled(this.clients.splice(0).map((c) => c.close()))
    return super.finally(err)
  }

  protected override async catch(err: Error & {oclif?: {exit?: number}; skipOclifErrorHandling?: boolean}): Promise<unknown> {
    if (err.oclif?.exit !== undefined && (err as any).code === 'EEXIT') throw err // this.exit(): not an error
    let code: string
    let exit: number
    let message: string
    if (err instanceof PolarError || !err.oclif) {
      const pe = toPolarError(err)
      code = pe.code
      exit = pe.exit
      message = pe.message
    } else {
      // oclif's own parse errors (missing argument, unknown flag, bad option): bad usage, in polar's words.
      code = 'USAGE'
      exit = err.oclif.exit === 2 || err.oclif.exit === undefined ? EXIT.USAGE : err.oclif.exit
      const ctor = this.constructor as typeof PolarCommand
      message = usageMessage(err, {id: this.id ?? '', bin: this.config.bin, flags: {...ctor.baseFlags, ...ctor.flags}})
    }
    printError(code, message, this.jsonEnabled(), err.stack)
    const out = new Error(message) as Error & {oclif: {exit: number}; skipOclifErrorHandling: boolean}
    out.oclif = {exit}
    out.skipOclifErrorHandling = true
    throw out
  }
}
