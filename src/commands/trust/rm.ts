import {Args, Flags} from '@oclif/core'
import {PolarCommand} from '../../lib/cli/base-command.js'
import {viaOf} from '../../lib/cli/via.js'
import {DEFAULT_KEY_NAME, KeyStore} from '../../lib/identity/index.js'

export default class TrustRm extends PolarCommand {
  static override summary = 'Stop trusting an identity, and publish your re-signed trust record.'
  static override description = 'Exit 3 when the identity is not in your trust record.'
  static override examples = ['<%= config.bin %> trust rm did:key:z6Mk...', '<%= config.bin %> trust rm did:key:z6Mk... --node http://node.example:7477 --json']
  static override args = {did: Args.string({description: 'the did:key to remove', required: true})}
  static override flags = {
    key: Flags.string({char: 'k', description: 'your identity that signs the record', default: DEFAULT_KEY_NAME}),
  }

  async run(): Promise<{owner: string; trusts: Array<{did: string; weight: number}>; record: string; stored: boolean}> {
    const {args, flags} = await this.parse(TrustRm)
    const target = await this.target(flags)
    const identity = new KeyStore(target.home).loadOrCreate(flags.key)
    const {changeNote, changeTrust} = await import('../../lib/api/search-trust.js')
    const r = await changeTrust(await viaOf(target, (h) => this.openStore(h)), identity, {op: 'rm', did: args.did})
    if (!this.jsonEnabled()) {
      this.log(r.record)
      this.note(changeNote(identity.did, r))
    }
    return r
  }
}
