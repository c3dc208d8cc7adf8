import {Args, Flags} from '@oclif/core'
import {PolarCommand} from '../lib/cli/base-command.js'
import {InputError} from '../lib/errors.js'
import {DEFAULT_KEY_NAME} from '../lib/identity/index.js'
import type {PushResult} from '../lib/objects/index.js'
import {formatBytes, progressReporter} from '../lib/ui/progress.js'
import {DEFAULT_MAX_STAMP_BITS, MAX_STAMP_BITS} from '../lib/records/stamp.js'

export default class Push extends PolarCommand {
  static override summary = 'Store a file or standard input as a signed object.'
  static override description = `Chunks the input into a UnixFS DAG (IPFS unixfs-v1-2025 profile: CIDv1, sha2-256, 1 MiB raw leaves, balanced, 1024 links per node), stores every block durably, signs an object record with your key, and prints the root CID. The same bytes always give the same CID, and the same CID as \`ipfs add\` with that profile.

With a node running on this home (polar serve), the node stores the object and places it on --replicas nodes chosen by rendezvous hashing; push fails with exit 5 only when fewer than --min-replicas hold it (the node keeps placing the rest). Without a node, the object goes to the embedded store (1 replica).

With --node URL the object is written to that node, which takes it from owners it trusts (trust score at least its trustThreshold) and from others with a proof-of-work stamp of the bits it asks for; push mints one by itself up to --max-stamp-bits, else exits 6.

Blocks are stored in their smallest encoding (gzip, or a delta against an earlier version) — the CID is the same either way. A new push with the same --name by the same key is delta-encoded against your newest object of that name; --base CID names the earlier version instead (--base none: no base). Pulls always give back the exact bytes.`

  static override examples = [
    '<%= config.bin %> push report.pdf',
    'cat data.csv | <%= config.bin %> push - -q --name data.csv --tag dataset',
    '<%= config.bin %> push photo.jpg --tag holiday --tag 2026 --json',
    '<%= config.bin %> push backup.tar --replicas 5 --min-replicas 3',
    '<%= config.bin %> push site-v2.tar --base bafybeib...   # delta-encode against an earlier version',
    '<%= config.bin %> push notes.txt --base none            # no automatic base',
    '<%= config.bin %> push notes.txt --node http://node.example:7477 --max-stamp-bits 22',
  ]

  static override args = {
    file: Args.string({description: 'file to push, or - for standard input', required: true}),
  }

  static override flags = {
    name: Flags.string({description: 'name in the object record [default: the file name; empty for stdin]'}),
    tag: Flags.string({char: 't', description: 'tag for search (repeatable)', multiple: true, multipleNonGreedy: true, default: []}),
    mime: Flags.string({description: 'media type [default: guessed from the name]'}),
    key: Flags.string({char: 'k', description: 'identity that signs the record', default: DEFAULT_KEY_NAME}),
    replicas: Flags.integer({description: 'nodes to place the object on [default: the node setting, 3]', min: 1, max: 64}),
    'min-replicas': Flags.integer({description: 'fail (exit 5) when fewer nodes than this hold it', min: 0, max: 64, default: 1}),
    base: Flags.string({description: 'root CID of an earlier version to delta-encode against, or "none" [default: your newest object of the same name]; not with --node URL'}),
    quiet: Flags.boolean({char: 'q', description: 'print the CID alone', default: false}),
    'max-stamp-bits': Flags.integer({description: 'with --node URL: the most proof-of-work (stamp bits) to do when that node does not trust you enough', min: 0, max: MAX_STAMP_BITS, default: DEFAULT_MAX_STAMP_BITS}),
  }

  async run(): Promise<PushResult> {
    const {args, flags} = await this.parse(Push)
    // Typing an object in by hand is never what was meant: it waited in silence, and Ctrl-D stored an empty object.
    if (args.file === '-' && process.stdin.isTTY) throw new InputError('`push -` reads standard input, which is a terminal here: pipe the data in (`cat notes.txt | polar push -`, `polar push - < notes.txt`) or name a file (`polar push notes.txt`)', {code: 'USAGE'})
    const client = await this.client(flags)
    const progress = progressReporter('push', !flags.quiet && !this.jsonEnabled() && Boolean(process.stderr.isTTY))
    let result: PushResult
    try {
      result = await client.push({
        file: args.file, name: flags.name, tags: flags.tag, mime: flags.mime, key: flags.key, replicas: flags.replicas,
        minReplicas: flags['min-replicas'], base: flags.base, maxStampBits: flags['max-stamp-bits'], onProgress: progress.update,
      })
    } finally {
      progress.done()
    }
    if (flags.quiet) this.log(result.cid)
    else if (!this.jsonEnabled()) {
      this.log(result.cid)
      this.note(`pushed ${result.name || 'stdin'}: ${formatBytes(result.size)}, ${result.blocks} block(s), ${result.newBlocks} new; ${result.replicas} replica(s)${client.notes.pushed}`)
    }
    return result
  }
}
