import {Flags} from '@oclif/core'
import {PolarCommand} from '../../lib/cli/base-command.js'
import {DEFAULT_KEY_NAME} from '../../lib/identity/index.js'

export default class TrustLs extends PolarCommand {
  static override summary = 'List the identities your trust record names, with their weights.'
  static override description = 'Reads your current trust record from the node you act against (the local node, --node URL, or this home\'s store) and checks its signature.'
  static override examples = ['<%= config.bin %> trust ls', '<%= config.bin %> trust ls --json --key work']
  static override flags = {
    key: Flags.string({char: 'k', description: 'whose trust record (an identity in POLAR_HOME/keys)', default: DEFAULT_KEY_NAME}),
  }

  async run(): Promise<Array<{did: string; weight: number}>> {
    const {flags} = await this.parse(TrustLs)
    const client = await this.client(flags)
    const {owner, trusts} = await client.listTrust(flags.key)
    if (!this.jsonEnabled()) {
      if (trusts.length === 0) this.note(`${owner} trusts nobody yet; see \`polar trust add\``)
      for (const e of trusts) this.log(`${e.did}  ${e.weight}`)
    }
    return trusts
  }
}
