import {NotImplementedError} from '../errors.js'
import {PolarCommand} from './base-command.js'

/**
 * A command the design registers whose issue has not landed: it says so and
 * exits 1 (no fake output). Arguments are accepted so that the message, not
 * a parse error, is what the user sees.
 */
export abstract class PendingCommand extends PolarCommand {
  static override strict = false
  /** The issue that delivers this command. */
  static issue = ''

  async run(): Promise<never> {
    const ctor = this.constructor as typeof PendingCommand
    await this.parse(ctor)
    throw new NotImplementedError(`\`polar ${(this.id ?? '').replaceAll(':', ' ')}\``, ctor.issue)
  }
}
