import {Args} from '@oclif/core'
import {PolarCommand} from '../../lib/cli/base-command.js'
import {publicKeyFromDid} from '../../lib/identity/index.js'

export default class PeersPing extends PolarCommand {
  static override summary = 'Ping a peer through the node and print the round trip.'
  static override description = 'The node asks the peer for its hello, checks it answers as DID, records the round-trip time and marks it alive. Exit 3 for a did not in the table, 5 when the peer does not answer (or answers as someone else).'
  static override examples = ['<%= config.bin %> peers ping did:key:z6Mk...', '<%= config.bin %> peers ping did:key:z6Mk... --json']
  static override args = {did: Args.string({description: 'did of the peer', required: true})}

  async run(): Promise<{did: string; url: string; rttMs: number}> {
    const {args, flags} = await this.parse(PeersPing)
    publicKeyFromDid(args.did) // exit 2 on a malformed did
    const client = await this.client(flags)
    const r = await client.pingPeer(args.did)
    if (!this.jsonEnabled()) this.log(`${r.did}  ${r.url}  ${r.rttMs} ms`)
    return r
  }
}
