import {Args, Flags} from '@oclif/core'
import {PolarCommand} from '../lib/cli/base-command.js'

export default class Verify extends PolarCommand {
  static override summary = 'Check a signature made by `polar sign`: exit 0 when it is valid, 4 when not.'
  static override description = `Checks that --sig is the signature of --did over the data (the SHA-512 of the file or standard input, behind the prefix "polar-sign-v1" and the --context given to sign). Needs no key and no node.

Exit codes: 0 valid; 4 not valid (other data, another did, another context, or an altered signature); 2 a malformed did or signature.`

  static override examples = [
    '<%= config.bin %> verify report.pdf --sig "$SIG" --did did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK',
    'cat report.pdf | <%= config.bin %> verify - --sig "$SIG" --did "$DID" --json',
    '<%= config.bin %> verify offer.json --sig "$SIG" --did "$DID" --context shop.orders && echo signed',
  ]

  static override args = {
    file: Args.string({description: 'the signed file, or - for standard input', default: '-', ignoreStdin: true}),
  }

  static override flags = {
    sig: Flags.string({description: 'the signature, base64, as `polar sign` prints it', required: true}),
    did: Flags.string({description: 'the did:key that signed', required: true}),
    context: Flags.string({description: 'the --context the data was signed with'}),
  }

  async run(): Promise<{valid: true; did: string}> {
    const {args, flags} = await this.parse(Verify)
    const {verifyFile} = await import('../lib/crypto/home-keys.js')
    const result = await verifyFile({file: args.file, did: flags.did, signature: flags.sig, context: flags.context})
    if (!this.jsonEnabled()) this.log(`valid signature by ${result.did}`)
    return result
  }
}
