import {Args, Flags} from '@oclif/core'
import {PolarCommand} from '../lib/cli/base-command.js'
import {formatBytes} from '../lib/ui/progress.js'

export interface SearchRow {
  cid: string
  name: string
  size: number
  tags: string[]
  owner: string
  score: number
  mime: string
  time: number
  record: string
}

export default class Search extends PolarCommand {
  static override summary = 'Find object records, locally and on the network.'
  static override description = `Searches the object records this node holds (SQLite FTS5 over name words, tags and media type) and asks up to 32 peers in parallel (8 at a time, 3 s in all). Every word must match, as the start of a word of the name, a tag or the media type; quotes and operators are ordinary separators. A peer's answers are kept only if they are validly signed records that match; results are merged by object CID and ranked by relevance × (1 + the owner's trust score, see \`polar trust score\`).

No match prints nothing (an empty list with --json) and exits 0. Through --node URL, that node's index and its peers are asked from here; without a node, this home's index and the peers its table lists.`

  static override examples = [
    '<%= config.bin %> search holiday',
    '<%= config.bin %> search "annual report" --tag 2026 --limit 5',
    '<%= config.bin %> search --owner did:key:z6Mk... --json',
    '<%= config.bin %> search photo --node http://node.example:7477',
  ]

  static override args = {
    query: Args.string({description: 'words to look for (all must match); omit to list by --tag/--owner', required: false}),
  }

  static override flags = {
    tag: Flags.string({char: 't', description: 'only objects with this exact tag (repeatable: all must match)', multiple: true, default: []}),
    owner: Flags.string({description: 'only objects signed by this did:key'}),
    limit: Flags.integer({char: 'n', description: 'at most this many results', min: 1, max: 100, default: 20}),
  }

  async run(): Promise<SearchRow[]> {
    const {args, flags} = await this.parse(Search)
    const client = await this.client(flags)
    const report = await client.search({query: args.query, tags: flags.tag, owner: flags.owner, limit: flags.limit})
    const rows: SearchRow[] = report.results.map((r) => ({cid: r.cid, name: r.name, size: r.size, tags: r.tags, owner: r.owner, score: Math.round(r.score * 1e6) / 1e6, mime: r.mime, time: r.time, record: r.record}))
    if (!this.jsonEnabled()) {
      for (const r of rows) this.log(`${r.score.toFixed(3).padStart(8)}  ${r.cid}  ${formatBytes(r.size).padStart(10)}  ${r.name || '-'}  ${r.tags.length ? '[' + r.tags.join(', ') + ']' : ''}  ${r.owner.slice(0, 20)}…`)
      this.note(`${rows.length} result(s); ${report.peers.answered} of ${report.peers.asked} peer(s) answered${report.peers.dropped ? `, ${report.peers.dropped} record(s) dropped (did not verify or match)` : ''}`)
    }
    return rows
  }
}
