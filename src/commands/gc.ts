import {Flags} from '@oclif/core'
import {PolarCommand} from '../lib/cli/base-command.js'
import type {GcResult} from '../lib/store/gc.js'

export default class Gc extends PolarCommand {
  static override summary = 'Reclaim the space of blocks no object needs.'
  static override description = `Deletes the blocks of this home's store that no object record, no pulled copy and no delta-encoded block still needs — what a killed push or pull leaves behind — and gives their space back to the disk (compaction). Prints the bytes freed.

Safe at any time: blocks a push or replication under way has taken are kept (pins), a kill at any moment loses no block an object needs (the sweep is one transaction; compaction swaps packs only after the copy is on disk). With a node running on this home, gc runs inside the node (through its local API). It works on this home only: not with --node URL.

Exit 4 (INTEGRITY, nothing deleted) when an object's DAG has a block that is missing or does not verify: gc cannot tell that object's blocks from garbage; pull it through a node to heal it first. --dry-run counts what would go, and what compaction would free, and changes nothing.`

  static override examples = [
    '<%= config.bin %> gc',
    '<%= config.bin %> gc --dry-run',
    '<%= config.bin %> gc --json',
  ]

  static override flags = {
    'dry-run': Flags.boolean({description: 'count what would be reclaimed; change nothing', default: false}),
  }

  async run(): Promise<GcResult> {
    const {flags} = await this.parse(Gc)
    const client = await this.client(flags)
    const result = await client.gc({dryRun: flags['dry-run']})
    if (!this.jsonEnabled()) {
      const {formatBytes} = await import('../lib/ui/progress.js')
      const verb = result.dryRun ? 'would free' : 'freed'
      this.log(`${verb} ${formatBytes(result.freed)}`)
      const kept = result.kept.pinned + result.kept.bases
      this.note(`${result.blocks} unneeded block(s) (${formatBytes(result.bytes)})${result.dryRun ? ' would be' : ''} deleted, ${result.packs} pack(s) ${result.dryRun ? 'would be ' : ''}rewritten` +
        `${kept ? `; kept ${result.kept.pinned} pinned by a write under way and ${result.kept.bases} base(s) of stored deltas` : ''}` +
        `${result.deadLeft ? `; ${formatBytes(result.deadLeft)} of dead bytes stay in packs mostly alive` : ''}${client.notes.collected}`)
    }
    return result
  }
}
