import {Flags} from '@oclif/core'
import {PolarCommand} from '../lib/cli/base-command.js'
import {DEFAULT_KEY_NAME} from '../lib/identity/index.js'
import type {ListedObject} from '../lib/client/index.js'

export default class Ls extends PolarCommand {
  static override summary = 'List your objects (or an owner\'s) held by the node or this store.'
  static override description = `Lists the object records signed by your identity (--key, default \`default\`), or by --owner DID, that the node on this home holds (without a node: this home's store), newest first: name, size, root CID, time, and the replica count the object was pushed with ("-": the node's setting). Each version is a row. A table with a header row: aligned on a terminal, tab-separated otherwise. An owner with nothing here prints nothing (\`[]\` with --json), exit 0. With --node URL it is refused (exit 2): use \`polar search --owner DID --node URL\`.`

  static override examples = [
    '<%= config.bin %> ls',
    '<%= config.bin %> ls --owner did:key:z6Mk... --json',
    '<%= config.bin %> ls | cut -f3            # the CIDs (after the header row)',
  ]

  static override flags = {
    owner: Flags.string({description: 'list this did:key\'s objects instead of yours'}),
    key: Flags.string({char: 'k', description: 'your identity whose objects to list', default: DEFAULT_KEY_NAME}),
  }

  async run(): Promise<ListedObject[]> {
    const {flags} = await this.parse(Ls)
    const client = await this.client(flags)
    const {objects} = await client.listObjects({owner: flags.owner, key: flags.key})
    if (!this.jsonEnabled() && objects.length > 0) {
      const [{formatTable}, {formatBytes}] = await Promise.all([import('../lib/ui/table.js'), import('../lib/ui/progress.js')])
      const aligned = Boolean(process.stdout.isTTY)
      const cells = objects.map((o) => [o.name || '-', aligned ? formatBytes(o.size) : String(o.size), o.cid, new Date(o.time).toISOString(), o.replicas === null ? '-' : String(o.replicas)])
      for (const line of formatTable(['NAME', 'SIZE', 'CID', 'TIME', 'REPLICAS'], cells, {aligned, right: [1, 4]})) this.log(line)
    }
    return objects
  }
}
