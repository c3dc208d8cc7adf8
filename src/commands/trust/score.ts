import {Args, Flags} from '@oclif/core'
import {PolarCommand} from '../../lib/cli/base-command.js'
import {DEFAULT_KEY_NAME} from '../../lib/identity/index.js'

export default class TrustScore extends PolarCommand {
  static override summary = 'How much you trust an identity, and through which paths.'
  static override description = `Your identity has trust 1 and passes it on to those you trust in proportion to your weights (weight / sum of your weights); they pass theirs on the same way. The score is the sum, over every path from you of at most 3 hops that visits no identity twice, of the product of those fractions. Computed from the trust records the node you act against knows (it fetches those within 3 hops of its owner). --json lists the contributing paths, largest first (at most 100), and pathCount, how many there are in all.`
  static override examples = ['<%= config.bin %> trust score did:key:z6Mk...', '<%= config.bin %> trust score did:key:z6Mk... --json']
  static override args = {did: Args.string({description: 'the did:key to score', required: true})}
  static override flags = {
    key: Flags.string({char: 'k', description: 'score from this identity of yours', default: DEFAULT_KEY_NAME}),
  }

  async run(): Promise<{did: string; score: number; paths: Array<{path: string[]; weight: number}>; pathCount: number}> {
    const {args, flags} = await this.parse(TrustScore)
    const client = await this.client(flags)
    const r = await client.scoreTrust(flags.key, args.did)
    if (!this.jsonEnabled()) {
      this.log(String(Math.round(r.score * 1e9) / 1e9))
      this.note(`${r.pathCount} path(s)${r.paths.length ? ': ' + r.paths.slice(0, 5).map((p) => `${p.path.length - 1} hop(s) ${Math.round(p.weight * 1e6) / 1e6}`).join(', ') : ''}`)
    }
    return r
  }
}
