import {Args, Flags} from '@oclif/core'
import {PolarCommand} from '../lib/cli/base-command.js'
import {DEFAULT_KEY_NAME} from '../lib/identity/index.js'
import type {EraseResult} from '../lib/client/index.js'

export default class Erase extends PolarCommand {
  static override summary = 'Erase an object you own, on every node that holds it.'
  static override description = `Signs an erase record with your key (only the object's owner can erase it) and applies it: the object record is deleted, with every block of the object that no other object on the node needs.

A tombstone is kept for that record: the record itself is never replicated to or accepted by a node again, and a node will not fetch the object again while every record of it that the node (or its peers) knows is erased. The content is not banned: the same bytes pushed again, by you or by anyone, make a new record, which is stored and pulled as usual; and another owner's erase never removes or hides your object.

Through a running node (polar serve) the erase goes to every peer, which forward it in turn; a node that is offline applies it when it is back (it reads its peers' tombstones at start and every 30 s). CID may be the object's root CID or its record CID (with --node URL only the root CID: exit 2 for a record CID). Exit 3 when no such object is known, 6 when your key does not own it (nothing is erased anywhere).`

  static override examples = [
    '<%= config.bin %> erase bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e',
    '<%= config.bin %> erase bafy... --key work --json',
    '<%= config.bin %> erase bafy... --node http://node.example:7477',
  ]

  static override args = {
    cid: Args.string({description: 'root CID or record CID of the object', required: true}),
  }

  static override flags = {
    key: Flags.string({char: 'k', description: 'identity that owns the object and signs the erase', default: DEFAULT_KEY_NAME}),
  }

  async run(): Promise<EraseResult> {
    const {args, flags} = await this.parse(Erase)
    const client = await this.client(flags)
    const result = await client.erase({cid: args.cid, key: flags.key})
    if (!this.jsonEnabled()) {
      this.log(`erased ${result.cid}`)
      this.note(`${result.records.length} record(s); ${result.blocks} block(s) deleted here; ${result.nodes.length} node(s) confirmed${client.notes.erased}`)
    }
    return result
  }
}
