import {Flags} from '@oclif/core'
import {PolarCommand} from '../lib/cli/base-command.js'
import {DEFAULT_KEY_NAME, KeyStore} from '../lib/identity/index.js'

export default class Keygen extends PolarCommand {
  static override summary = 'Create an ed25519 identity.'
  static override description = `Creates a named identity in POLAR_HOME/keys/NAME (mode 0600) and prints its did:key.
Commands that sign (push, erase, trust) use the identity named by --key, "default" unless told otherwise; the default one is created on first use.`

  static override examples = [
    '<%= config.bin %> keygen',
    '<%= config.bin %> keygen --name work --json',
    '<%= config.bin %> keygen --name work --force   # replace it: the old key is lost',
  ]

  static override flags = {
    name: Flags.string({char: 'n', description: 'name of the identity', default: DEFAULT_KEY_NAME}),
    force: Flags.boolean({description: 'replace an existing identity of that name', default: false}),
  }

  async run(): Promise<{name: string; did: string; path: string}> {
    const {flags} = await this.parse(Keygen)
    const keys = new KeyStore(this.resolveHome(flags))
    const {identity, path} = keys.create(flags.name, {force: flags.force})
    if (!this.jsonEnabled()) {
      this.log(identity.did)
      this.note(`created identity "${flags.name}" in ${path}`)
    }
    return {name: flags.name, did: identity.did, path}
  }
}
