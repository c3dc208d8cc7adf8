import {Args} from '@oclif/core'
import {PolarCommand} from '../../lib/cli/base-command.js'
import {publicKeyFromDid} from '../../lib/identity/index.js'

export default class PeersPing extends PolarCommand {
  static override summary = 'Ping a peer through the node and print the round trip.'
  static override description = 'The node asks the peer for its hello, checks it answers as the did in its table, records the round-trip time and marks it alive. Name the peer by its did or by its URL (as `polar peers` lists it: http://host:port). Exit 3 for a peer not in the table, 5 when the peer does not answer (or answers as someone else).'
  static override examples = [
    '<%= config.bin %> peers ping did:key:z6Mk...',
    '<%= config.bin %> peers ping http://127.0.0.1:7478',
    '<%= config.bin %> peers ping did:key:z6Mk... --json',
  ]

  static override args = {peer: Args.string({description: 'the peer: its did:key, or its URL http://host:port', required: true})}

  async run(): Promise<{did: string; url: string; rttMs: number}> {
    const {args, flags} = await this.parse(PeersPing)
    if (!/^https?:\/\//i.test(args.peer)) publicKeyFromDid(args.peer) // exit 2 on a malformed did (a URL is checked by the client)
    const client = await this.client(flags)
    const r = await client.pingPeer(args.peer)
    if (!this.jsonEnabled()) this.log(`${r.did}  ${r.url}  ${r.rttMs} ms`)
    return r
  }
}
