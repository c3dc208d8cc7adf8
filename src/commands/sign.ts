import {Args, Flags} from '@oclif/core'
import {PolarCommand} from '../lib/cli/base-command.js'
import {DEFAULT_KEY_NAME} from '../lib/identity/index.js'

export default class Sign extends PolarCommand {
  static override summary = 'Sign a file or standard input with one of your identities; prints the signature (base64).'
  static override description = `Signs the SHA-512 of the data with the ed25519 key of an identity of this home (the "default" one is created on first use), behind the prefix "polar-sign-v1", so the signature can never pass for a polar record or request signature (docs/protocol.md "Signatures over data"). Data of any size streams through once. No node is needed.

Check it with \`polar verify FILE --sig SIG --did DID\`, on any machine; --context must match.

Exit codes: 2 a file that cannot be read, or a --context over 255 bytes; 3 when --key names no identity.`

  static override examples = [
    '<%= config.bin %> sign report.pdf',
    'SIG=$(<%= config.bin %> sign report.pdf --key work)',
    'tar -c notes | <%= config.bin %> sign - --json',
    '<%= config.bin %> sign offer.json --context shop.orders   # only verifies with the same --context',
  ]

  static override args = {
    file: Args.string({description: 'file to sign, or - for standard input', default: '-', ignoreStdin: true}),
  }

  static override flags = {
    key: Flags.string({char: 'k', description: 'identity that signs', default: DEFAULT_KEY_NAME}),
    context: Flags.string({description: 'domain separation: a label (at most 255 bytes) the verifier must give too'}),
  }

  async run(): Promise<{signature: string; did: string; key: string}> {
    const {args, flags} = await this.parse(Sign)
    const {signFile} = await import('../lib/crypto/home-keys.js')
    const result = await signFile(this.resolveHome(flags), {file: args.file, key: flags.key, context: flags.context})
    if (!this.jsonEnabled()) this.log(result.signature)
    return result
  }
}
