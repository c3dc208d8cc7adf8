import {Flags} from '@oclif/core'
import {PolarCommand} from '../lib/cli/base-command.js'
import {PolarError} from '../lib/errors.js'
import type {RepairReport} from '../lib/store/repair.js'

export default class Repair extends PolarCommand {
  static override summary = 'Check every block and make the index (polar.db) true to the packs again.'
  static override description = `Reads and hashes every block of this home's store. Index rows whose bytes are gone (a deleted or cut-short pack file) or no longer hash to their CID are dropped; pack files the index does not know (polar.db lost, emptied or replaced) are read back from the manifests each checkpoint writes into them, and every block they name is hashed before it is indexed. Then every object record is checked for missing blocks.

Repair brings back blocks, not records: object records (names, tags, owners' signatures), tombstones, trust records and the peer table live only in polar.db. After a lost polar.db, the objects come back as blocks without a record (listed as "unreferenced"): pull them by CID, or push the files again to sign new records. Pack files written before packs had manifests cannot be read without the index; they are moved to POLAR_HOME/lost+found/, never deleted.

Stop the node first: repair works on the store directly, in one transaction (a repair that fails or is interrupted changes nothing). --dry-run checks and reports without changing anything.`

  static override examples = [
    '<%= config.bin %> repair',
    '<%= config.bin %> repair --dry-run --json',
  ]

  static override flags = {
    'dry-run': Flags.boolean({description: 'check and report, change nothing', default: false}),
  }

  async run(): Promise<RepairReport> {
    const {flags} = await this.parse(Repair)
    const home = this.resolveHome(flags)
    const {liveNodeSocket} = await import('../lib/util/socket.js')
    if (await liveNodeSocket(home)) throw new PolarError(`a node is running on ${home}; stop it first (polar repair works on the store directly)`, {code: 'NODE_RUNNING'})
    const store = await this.openStore(home)
    const {repairStore} = await import('../lib/store/repair.js')
    const report = repairStore(store, {
      dryRun: flags['dry-run'],
      onProgress: (e) => this.note(`pack ${e.pack}/${e.packs} checked (${Math.round(e.bytes / 1048576)} MiB hashed)`),
    })
    if (!this.jsonEnabled()) {
      const would = report.dryRun ? 'would be ' : ''
      this.log(`${report.checked} indexed block(s) hashed: ${report.good} verify; ${report.lost.length} lost${report.lost.length > 0 ? ` (${would}dropped from the index)` : ''}`)
      if (report.missingPacks.length > 0) this.log(`missing pack file(s): ${report.missingPacks.join(', ')}`)
      if (report.recoveredPacks.length > 0) this.log(`${report.recovered} block(s) ${would}indexed again from ${report.recoveredPacks.length} pack(s) the index did not know; ${report.unrecoverable} named by their manifests do not verify`)
      if (report.movedAside.length > 0) this.log(`${report.movedAside.length} pack file(s) with no manifest ${report.dryRun ? 'would be moved' : 'moved'} aside: ${report.movedAside.join(', ')}`)
      if (report.incomplete.length > 0) this.log(`${report.incomplete.length} object(s) miss blocks: ${report.incomplete.join(' ')} (push the files again, or pull them through a node)`)
      if (report.unreferenced.length > 0) this.log(`${report.unreferenced.length} top-level block(s) with no record (pull by CID, or push again to sign a record):\n  ${report.unreferenced.join('\n  ')}`)
    }
    return report
  }
}
