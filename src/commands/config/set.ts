import {Args} from '@oclif/core'
import {PolarCommand} from '../../lib/cli/base-command.js'
import {assertConfigKey, CONFIG_KEYS} from '../../lib/client-config.js'

export default class ConfigSet extends PolarCommand {
  static override summary = 'Set a client default (node, key, replicas).'
  static override description = `Stores a default in POLAR_HOME/config.json (mode 0600). Keys:
  node      ${CONFIG_KEYS.node.describe}
  key       ${CONFIG_KEYS.key.describe}
  replicas  ${CONFIG_KEYS.replicas.describe}
A flag given to a command wins over this file, and so does its environment variable (POLAR_NODE). A bad value is refused (exit 2) and the file is left as it was.`

  static override examples = [
    '<%= config.bin %> config set node http://127.0.0.1:7477',
    '<%= config.bin %> config set key work',
    '<%= config.bin %> config set replicas 5 --json',
  ]

  static override args = {
    key: Args.string({description: 'node, key or replicas', required: true}),
    value: Args.string({description: 'the new value', required: true}),
  }

  async run(): Promise<{key: string; value: string | number}> {
    const {args, flags} = await this.parse(ConfigSet)
    const key = assertConfigKey(args.key)
    const value = CONFIG_KEYS[key].parse(args.value)
    const {openClientConfig} = await import('../../lib/client-config.js')
    const conf = await openClientConfig(this.resolveHome(flags))
    conf.set(key, value)
    if (!this.jsonEnabled()) this.note(`${key} = ${value} (in ${conf.path})`)
    return {key, value}
  }
}
