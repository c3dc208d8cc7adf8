import {Flags} from '@oclif/core'
import {PolarCommand} from '../../lib/cli/base-command.js'
import {InputError} from '../../lib/errors.js'

/** One row of `peers --json` (CLI.md); the watch view shows the same rows. */
export type {PeerRow} from '../../lib/client/index.js'
import type {PeerRow} from '../../lib/client/index.js'

export default class Peers extends PolarCommand {
  static override summary = 'List the peer table (see also: peers add, peers rm).'
  static override description = `Lists the peers the node on this home knows (or, with --node URL, the peers of that node), with state (alive / suspect / dead), round-trip time and when each was last seen. Without a running node, the table in this home's database is shown as it was left.`

  static override examples = [
    '<%= config.bin %> peers',
    '<%= config.bin %> peers --json --service polar',
    '<%= config.bin %> peers --node http://node.example:7477',
    '<%= config.bin %> peers --watch',
  ]

  static override flags = {
    service: Flags.string({description: 'only peers whose service string matches this regular expression'}),
    watch: Flags.boolean({description: 'live table that updates as peers come and go (q quits); a plain listing when stdout is not a terminal', default: false}),
    interval: Flags.integer({description: 'seconds between updates of --watch', default: 1, min: 1, max: 3600}),
  }

  async run(): Promise<PeerRow[]> {
    const {flags} = await this.parse(Peers)
    let filter: RegExp | undefined
    if (flags.service !== undefined) {
      try {
        filter = new RegExp(flags.service)
      } catch (err) {
        throw new InputError(`--service is not a valid regular expression: ${(err as Error).message}`)
      }
    }
    const client = await this.client(flags)
    const load = async (): Promise<PeerRow[]> => {
      const rows = await client.listPeers()
      return filter ? rows.filter((p) => filter!.test(p.services)) : rows
    }
    // --watch on a terminal: the ink view (loaded only here). Off a terminal, or with --json, the plain listing below.
    if (flags.watch && process.stdout.isTTY && !this.jsonEnabled()) {
      const {watchPeers} = await import('../../lib/ui/peers-watch.js')
      await watchPeers({load, intervalMs: flags.interval * 1000, source: client.notes.source})
      return []
    }
    const rows = await load()
    if (!this.jsonEnabled()) {
      if (rows.length === 0) this.note('no peers')
      for (const p of rows) {
        const rtt = p.rttMs === null ? '-' : `${p.rttMs}ms`
        const ago = p.lastSeen ? `${Math.round((Date.now() - p.lastSeen) / 1000)}s ago` : '-'
        this.log(`${p.did}  ${p.url}  ${p.state}  ${rtt}  ${ago}  ${p.services}`)
      }
    }
    return rows
  }
}
