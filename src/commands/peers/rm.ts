import {Args} from '@oclif/core'
import {PolarCommand} from '../../lib/cli/base-command.js'
import {publicKeyFromDid} from '../../lib/identity/index.js'

export default class PeersRm extends PolarCommand {
  static override summary = 'Remove a peer from the table.'
  static override examples = ['<%= config.bin %> peers rm did:key:z6Mk...']
  static override args = {did: Args.string({description: 'did of the peer', required: true})}

  async run(): Promise<{did: string; removed: boolean}> {
    const {args, flags} = await this.parse(PeersRm)
    publicKeyFromDid(args.did) // exit 2 on a malformed did
    const client = await this.client(flags)
    const r = await client.removePeer(args.did)
    if (!this.jsonEnabled()) this.note(`removed ${args.did}`)
    return r
  }
}
