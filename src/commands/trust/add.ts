import {Args, Flags} from '@oclif/core'
import {PolarCommand} from '../../lib/cli/base-command.js'
import {DEFAULT_KEY_NAME} from '../../lib/identity/index.js'

export default class TrustAdd extends PolarCommand {
  static override summary = 'Trust an identity with a weight (or change its weight), and publish your re-signed trust record.'
  static override description = 'Weights are positive numbers; only their ratios matter (an identity you give 2 gets twice the share of one you give 1). The record is re-signed with your key and published through the node you act against (the local node, or --node URL: an identity with no node of its own can publish), which passes it on to its peers.'
  static override examples = [
    '<%= config.bin %> trust add did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK --weight 2',
    '<%= config.bin %> trust add did:key:z6Mk... --weight 0.5 --node http://node.example:7477 --json',
  ]
  static override args = {did: Args.string({description: 'the did:key to trust', required: true})}
  static override flags = {
    weight: Flags.string({char: 'w', description: 'a positive number', required: true}),
    key: Flags.string({char: 'k', description: 'your identity that signs the record', default: DEFAULT_KEY_NAME}),
  }

  async run(): Promise<{owner: string; trusts: Array<{did: string; weight: number}>; record: string; stored: boolean}> {
    const {args, flags} = await this.parse(TrustAdd)
    // The record codec loads only when the command runs (not for --help or start-up).
    const {parseWeight} = await import('../../lib/records/trust-record.js')
    const weight = parseWeight(flags.weight)
    const client = await this.client(flags)
    const r = await client.changeTrust(flags.key, {op: 'add', did: args.did, weight})
    if (!this.jsonEnabled()) {
      const {changeNote} = await import('../../lib/client/trust.js')
      this.log(r.record)
      this.note(changeNote(r.owner, r))
    }
    return r
  }
}
