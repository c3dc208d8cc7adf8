import {Args} from '@oclif/core'
import {PolarCommand} from '../../lib/cli/base-command.js'

export default class PeersAdd extends PolarCommand {
  static override summary = 'Add a peer: the node contacts URL, learns its did, and both record each other.'
  static override examples = ['<%= config.bin %> peers add http://127.0.0.1:7478', '<%= config.bin %> peers add http://node.example:7477 --json']
  static override args = {url: Args.string({description: 'public URL of the other node', required: true})}

  async run(): Promise<{did: string; url: string; state: string}> {
    const {args, flags} = await this.parse(PeersAdd)
    const client = await this.client(flags)
    const peer = await client.addPeer(args.url)
    if (!this.jsonEnabled()) this.log(`${peer.did}  ${peer.url}`)
    return peer
  }
}
