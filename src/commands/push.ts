import {Args, Flags} from '@oclif/core'
import {PolarCommand} from '../lib/cli/base-command.js'
import {DEFAULT_KEY_NAME, KeyStore} from '../lib/identity/index.js'
import {pushObject, type PushResult} from '../lib/objects/index.js'
import {formatBytes, progressReporter} from '../lib/ui/progress.js'

export default class Push extends PolarCommand {
  static override summary = 'Store a file or standard input as a signed object.'
  static override description = `Chunks the input into a UnixFS DAG (IPFS unixfs-v1-2025 profile: CIDv1, sha2-256, 1 MiB raw leaves, balanced, 1024 links per node), stores every block durably, signs an object record with your key, and prints the root CID. The same bytes always give the same CID, and the same CID as \`ipfs add\` with that profile.`

  static override examples = [
    '<%= config.bin %> push report.pdf',
    'cat data.csv | <%= config.bin %> push - -q --name data.csv --tag dataset',
    '<%= config.bin %> push photo.jpg --tag holiday --tag 2026 --json',
  ]

  static override args = {
    file: Args.string({description: 'file to push, or - for standard input', required: true}),
  }

  static override flags = {
    name: Flags.string({description: 'name in the object record [default: the file name; empty for stdin]'}),
    tag: Flags.string({char: 't', description: 'tag for search (repeatable)', multiple: true, default: []}),
    mime: Flags.string({description: 'media type [default: guessed from the name]'}),
    key: Flags.string({char: 'k', description: 'identity that signs the record', default: DEFAULT_KEY_NAME}),
    quiet: Flags.boolean({char: 'q', description: 'print the CID alone', default: false}),
  }

  async run(): Promise<PushResult> {
    const {args, flags} = await this.parse(Push)
    const home = this.resolveHome(flags)
    const identity = new KeyStore(home).loadOrCreate(flags.key)
    const store = await this.openStore(home)
    const progress = progressReporter('push', !flags.quiet && !this.jsonEnabled() && Boolean(process.stderr.isTTY))
    let result: PushResult
    try {
      result = await pushObject(store, identity, {file: args.file, name: flags.name, tags: flags.tag, mime: flags.mime, onProgress: progress.update})
    } finally {
      progress.done()
    }
    if (flags.quiet) this.log(result.cid)
    else if (!this.jsonEnabled()) {
      this.log(result.cid)
      this.note(`pushed ${result.name || 'stdin'}: ${formatBytes(result.size)}, ${result.blocks} block(s), ${result.newBlocks} new; ${result.replicas} replica (this store)`)
    }
    return result
  }
}
