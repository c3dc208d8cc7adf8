import {Args, Flags} from '@oclif/core'
import {PolarCommand} from '../lib/cli/base-command.js'
import {InputError} from '../lib/errors.js'
import {DEFAULT_KEY_NAME} from '../lib/identity/index.js'

export default class Encrypt extends PolarCommand {
  static override summary = 'Encrypt a file or standard input for one or more dids; the envelope goes to stdout or -o FILE.'
  static override description = `Wraps a fresh random key for each --to did (X25519 derived from its ed25519 key) and encrypts the data in 1 MiB chunks (ChaCha20-Poly1305, STREAM), so altered, reordered or cut chunks are detected. The envelope names none of its recipients: it shows their number and the data's size only. It does not say who made it; sign it too when that matters. No node is needed. Format: docs/protocol.md "Envelope and sealed data".

With no --to, the envelope is for your own identity (--key, "default", created on first use). Add your own did to --to to be able to read what you send to others.

The envelope is binary: it is not written to a terminal unless --force. With -o FILE the file appears only once all of it is written. --json needs -o FILE (the envelope is the output otherwise).

Exit codes: 2 a malformed or unusable did, more than 128 recipients, or a file that cannot be read; 3 when --key (with no --to) names no identity.`

  static override examples = [
    '<%= config.bin %> encrypt --to did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK report.pdf > report.pdf.polar',
    'tar -c notes | <%= config.bin %> encrypt --to "$ALICE" --to "$MY_DID" - > notes.tar.polar   # readable by alice and by you',
    '<%= config.bin %> encrypt secrets.txt -o secrets.polar --json   # for yourself',
  ]

  static override args = {
    file: Args.string({description: 'file to encrypt, or - for standard input', default: '-', ignoreStdin: true}),
  }

  static override flags = {
    to: Flags.string({description: 'recipient did:key (repeatable, at most 128) [default: your --key identity]', multiple: true, multipleNonGreedy: true}),
    key: Flags.string({char: 'k', description: 'with no --to: encrypt for this identity of yours', default: DEFAULT_KEY_NAME}),
    output: Flags.string({char: 'o', description: 'write the envelope to this file (atomically) instead of stdout'}),
    force: Flags.boolean({description: 'write the envelope to stdout even when it is a terminal', default: false}),
  }

  async run(): Promise<{recipients: string[]; size: number; path?: string}> {
    const {args, flags} = await this.parse(Encrypt)
    if (this.jsonEnabled() && !flags.output) throw new InputError('--json needs -o FILE: without it the envelope is the output', {code: 'USAGE'})
    const {encryptFile} = await import('../lib/crypto/home-keys.js')
    const result = await encryptFile(this.resolveHome(flags), {file: args.file, to: flags.to ?? [], key: flags.key, output: flags.output, force: flags.force})
    if (flags.output) this.note(`encrypted for ${result.recipients.length} recipient(s) to ${result.path} (${result.size} bytes)`)
    return result
  }
}
