import {Args, Flags} from '@oclif/core'
import {PolarCommand} from '../../lib/cli/base-command.js'
import {DEFAULT_KEY_NAME} from '../../lib/identity/index.js'

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
    const client = await this.client(flags)
    const r = await client.changeTrust(flags.key, {op: 'rm', did: args.did})
    if (!this.jsonEnabled()) {
      const {changeNote} = await import('../../lib/client/trust.js')
      this.log(r.record)
      this.note(changeNote(r.owner, r))
    }
    return r
  }
}
