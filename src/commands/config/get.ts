import {Args} from '@oclif/core'
import {PolarCommand} from '../../lib/cli/base-command.js'
import {assertConfigKey, readClientConfig, type ClientConfig} from '../../lib/client-config.js'

export default class ConfigGet extends PolarCommand {
  static override summary = 'Show the client defaults, or one of them.'
  static override description = `Prints the value of KEY from POLAR_HOME/config.json (nothing, and exit 0, when it is not set), or with no KEY every key that is set, one "KEY VALUE" line each. --json: {"key","value"} (value null when not set), or with no KEY an object of the keys that are set.`

  static override examples = [
    '<%= config.bin %> config get',
    '<%= config.bin %> config get node',
    '<%= config.bin %> config get --json',
  ]

  static override args = {
    key: Args.string({description: 'node, key or replicas [default: all]'}),
  }

  async run(): Promise<ClientConfig | {key: string; value: string | number | null}> {
    const {args, flags} = await this.parse(ConfigGet)
    const home = this.resolveHome(flags)
    const key = args.key === undefined ? undefined : assertConfigKey(args.key)
    const config = readClientConfig(home)
    if (key === undefined) {
      if (!this.jsonEnabled()) {
        for (const [k, v] of Object.entries(config)) this.log(`${k} ${v}`)
        if (Object.keys(config).length === 0) this.note('no client defaults set; see `polar config set --help`')
      }
      return config
    }
    const value = config[key] ?? null
    if (!this.jsonEnabled()) {
      if (value === null) this.note(`${key} is not set`)
      else this.log(String(value))
    }
    return {key, value}
  }
}
