import {Args} from '@oclif/core'
import {PolarCommand} from '../../lib/cli/base-command.js'
import {assertConfigKey} from '../../lib/client-config.js'

export default class ConfigUnset extends PolarCommand {
  static override summary = 'Remove a client default.'
  static override description = 'Removes KEY from POLAR_HOME/config.json; commands then use the built-in default again. Removing a key that is not set is not an error (removed: false).'

  static override examples = [
    '<%= config.bin %> config unset node',
    '<%= config.bin %> config unset replicas --json',
  ]

  static override args = {
    key: Args.string({description: 'node, key or replicas', required: true}),
  }

  async run(): Promise<{key: string; removed: boolean}> {
    const {args, flags} = await this.parse(ConfigUnset)
    const key = assertConfigKey(args.key)
    const {openClientConfig} = await import('../../lib/client-config.js')
    const conf = await openClientConfig(this.resolveHome(flags))
    const removed = conf.has(key)
    if (removed) conf.delete(key)
    if (!this.jsonEnabled()) this.note(removed ? `${key} removed` : `${key} was not set`)
    return {key, removed}
  }
}
