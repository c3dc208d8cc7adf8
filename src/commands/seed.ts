import {Args} from '@oclif/core'
import {PolarCommand} from '../lib/cli/base-command.js'

export type {SeedReport as SeedOutput} from '../lib/client/index.js'
import type {SeedReport as SeedOutput} from '../lib/client/index.js'

export default class Seed extends PolarCommand {
  static override summary = 'Ask nodes for the peers they know, then register with every peer not yet known.'
  static override description = `Sends a seed request (GET /v1/seed) to each URL: the node answers with the signed peer records it knows. The local node checks every record (signature, proof-of-work stamp, freshness), then registers with each peer it did not know (the peer dials back to check this node's URL) and passes the new peers on by gossip.

With no node running on this home (or with --node URL), nothing can be registered: the records are fetched and verified here and the peers they describe are listed (registered: 0). Exit 5 when no seed answers.`

  static override examples = [
    '<%= config.bin %> seed http://127.0.0.1:7477',
    '<%= config.bin %> seed http://node0.example:7477 http://node1.example:7477 --json',
    '<%= config.bin %> seed http://node0.example:7477 --node http://other.example:7477   # list what the seed offers',
  ]

  static override strict = false
  static override args = {url: Args.string({description: 'public URL of a node to ask (one or more)', required: true})}

  async run(): Promise<SeedOutput> {
    const {argv, flags} = await this.parse(Seed)
    const {parseSeedUrls} = await import('../lib/net/address.js')
    const urls = parseSeedUrls(argv as string[])
    const client = await this.client(flags)
    const r = await client.seed(urls)
    if (client.notes.seeded) this.note(client.notes.seeded)
    this.render(r)
    return r
  }

  private render(r: SeedOutput): void {
    if (this.jsonEnabled()) return
    for (const e of r.errors) this.note(`${e.url}: ${e.error}`)
    for (const p of r.peers ?? []) this.log(`${p.did}  ${p.urls.join(' ')}  ${p.services}`)
    this.log(`asked ${r.asked}, answered ${r.answered}, learned ${r.learned}, registered ${r.registered}`)
  }
}
