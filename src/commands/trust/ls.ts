import {Flags} from '@oclif/core'
import {PolarCommand} from '../../lib/cli/base-command.js'
import {viaOf} from '../../lib/cli/via.js'
import {DEFAULT_KEY_NAME, KeyStore} from '../../lib/identity/index.js'

export default class TrustLs extends PolarCommand {
  static override summary = 'List the identities your trust record names, with their weights.'
  static override description = 'Reads your current trust record from the node you act against (the local node, --node URL, or this home\'s store) and checks its signature.'
  static override examples = ['<%= config.bin %> trust ls', '<%= config.bin %> trust ls --json --key work']
  static override flags = {
    key: Flags.string({char: 'k', description: 'whose trust record (an identity in POLAR_HOME/keys)', default: DEFAULT_KEY_NAME}),
  }

  async run(): Promise<Array<{did: string; weight: number}>> {
    const {flags} = await this.parse(TrustLs)
    const target = await this.target(flags)
    const identity = new KeyStore(target.home).loadOrCreate(flags.key)
    const {listTrust} = await import('../../lib/api/search-trust.js')
    const entries = await listTrust(await viaOf(target, (h) => this.openStore(h)), identity.did)
    if (!this.jsonEnabled()) {
      if (entries.length === 0) this.note(`${identity.did} trusts nobody yet; see \`polar trust add\``)
      for (const e of entries) this.log(`${e.did}  ${e.weight}`)
    }
    return entries
  }
}
