import {Args, Flags} from '@oclif/core'
import {PolarCommand} from '../lib/cli/base-command.js'
import {InputError} from '../lib/errors.js'

export default class Decrypt extends PolarCommand {
  static override summary = 'Decrypt an envelope made by `polar encrypt` with one of your identities; the data goes to stdout or -o FILE.'
  static override description = `Tries each identity of this home (or only --key) on the envelope's recipient stanzas, checks the header, then decrypts chunk by chunk, writing each only after it verified. No node is needed.

Exit codes: 4 when the envelope is not for any of your keys, or was altered, reordered, cut short or extended (to stdout, the chunks before the bad one have been written; with -o FILE the file appears only when all of it verified); 3 when --key names no identity, or the home has none; 2 for a file that cannot be read.

--json needs -o FILE (the data is the output otherwise).`

  static override examples = [
    '<%= config.bin %> decrypt report.pdf.polar > report.pdf',
    '<%= config.bin %> decrypt notes.tar.polar --key me | tar -x',
    '<%= config.bin %> decrypt secrets.polar -o secrets.txt --json',
  ]

  static override args = {
    file: Args.string({description: 'the envelope, or - for standard input', default: '-', ignoreStdin: true}),
  }

  static override flags = {
    key: Flags.string({char: 'k', description: 'decrypt with this identity only [default: try each of yours]'}),
    output: Flags.string({char: 'o', description: 'write the data to this file (atomically: only once all of it verified) instead of stdout'}),
    force: Flags.boolean({description: 'print binary data even when stdout is a terminal', default: false}),
  }

  async run(): Promise<{key: string; did: string; size: number; path?: string}> {
    const {args, flags} = await this.parse(Decrypt)
    if (this.jsonEnabled() && !flags.output) throw new InputError('--json needs -o FILE: without it the decrypted data is the output', {code: 'USAGE'})
    const {decryptFile} = await import('../lib/crypto/home-keys.js')
    const result = await decryptFile(this.resolveHome(flags), {file: args.file, key: flags.key, output: flags.output, force: flags.force}, (w) => this.warnOnce(w))
    if (flags.output) this.note(`decrypted with identity "${result.key}" to ${result.path} (${result.size} bytes)`)
    return result
  }
}
