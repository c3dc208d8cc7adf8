import {PolarCommand} from '../lib/cli/base-command.js'
import type {StatusReport} from '../lib/client/index.js'

export default class Status extends PolarCommand {
  static override summary = 'Show the node (or this store): did, URL, uptime, peers, objects, blocks, bytes.'
  static override description = `Through the node on this home (or --node SOCKET): its did, URL, uptime and peers (alive / total in its table). Without a node: this home's store, its default identity and the table a node left. Then the counts of the store: objects (distinct roots with a record), records, blocks, bytes of the blocks, and bytes of the pack files on disk. version is this polar's. With --node URL it is refused (exit 2).`

  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status --json']

  async run(): Promise<StatusReport & {version: string}> {
    const {flags} = await this.parse(Status)
    const client = await this.client(flags)
    const s = {...(await client.status()), version: this.config.version}
    if (!this.jsonEnabled()) {
      const {formatBytes} = await import('../lib/ui/progress.js')
      const lines: Array<[string, string]> = [
        ['target', s.target === 'node' ? 'a running node' : 'this home\'s store (no node running)'],
        ['did', s.did ?? '-'],
        ['url', s.url ?? '-'],
        ['version', s.version],
        ['uptime', s.uptimeS === null ? '-' : `${s.uptimeS}s`],
        ['peers', `${s.peers.alive} alive / ${s.peers.total}`],
        ['objects', `${s.objects} (${s.records} record(s))`],
        ['blocks', String(s.blocks)],
        ['stored', `${formatBytes(s.bytes)} (${s.bytes} B) in blocks, ${formatBytes(s.packBytes)} in pack files`],
      ]
      for (const [k, v] of lines) this.log(`${(k + ':').padEnd(9)} ${v}`)
    }
    return s
  }
}
