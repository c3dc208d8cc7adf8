import {Args, Flags} from '@oclif/core'
import {PolarCommand} from '../lib/cli/base-command.js'
import {InputError} from '../lib/errors.js'
import type {PullResult} from '../lib/objects/index.js'

export default class Pull extends PolarCommand {
  static override summary = 'Fetch an object, verifying every block, to stdout or a file.'
  static override description = `Walks the object's DAG and checks every block's hash before writing a byte of it. With -o the file appears only when complete and verified (written to a temporary name, then renamed). A block that does not verify stops the pull with exit 4.

-o onto a FIFO or a device (/dev/null, /dev/stdout) writes straight into it and never replaces it; -o onto a symbolic link replaces the file the link points to and keeps the link. Binary data (a NUL byte in the first block) is not printed to a terminal unless you pass --force; pipe it or use -o.

Through a running node, blocks missing here come from peers (placement nodes first), several at a time, and are kept, so an interrupted pull resumes. With --node URL the blocks come from that node and are verified here.`

  static override examples = [
    '<%= config.bin %> pull bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e',
    '<%= config.bin %> pull bafy... -o report.pdf',
    '<%= config.bin %> pull bafy... | tar -x            # to a pipe',
    '<%= config.bin %> pull bafy... -o /dev/null --json  # fetch and verify only',
    '<%= config.bin %> pull bafy... --node http://node.example:7477 > file',
  ]

  static override args = {
    cid: Args.string({description: 'root CID of the object', required: true}),
  }

  static override flags = {
    output: Flags.string({char: 'o', description: 'write to this file (atomically) instead of stdout; a FIFO or device is written into'}),
    force: Flags.boolean({description: 'print binary data even when stdout is a terminal', default: false}),
  }

  async run(): Promise<PullResult> {
    const {args, flags} = await this.parse(Pull)
    if (this.jsonEnabled() && !flags.output) {
      // A malformed CID is the first thing to say (then the missing -o).
      const {assertSupportedCid, parseCid} = await import('../lib/content/cid.js')
      assertSupportedCid(parseCid(args.cid))
      throw new InputError('--json needs -o FILE: without it the object bytes are the output')
    }
    const client = await this.client(flags)
    // The progress line only where it can show (stderr a terminal, the bytes not on it); its module loads only then.
    const showProgress = !this.jsonEnabled() && Boolean(process.stderr.isTTY) && (Boolean(flags.output) || !process.stdout.isTTY)
    const progress = showProgress ? (await import('../lib/ui/progress.js')).progressReporter('pull', true) : undefined
    try {
      return await client.pull({cid: args.cid, output: flags.output, force: flags.force, onProgress: progress?.update})
    } finally {
      progress?.done()
    }
  }
}
