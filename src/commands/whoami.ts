import {PolarCommand} from '../lib/cli/base-command.js'
import {DEFAULT_KEY_NAME, KeyStore} from '../lib/identity/index.js'

export default class Whoami extends PolarCommand {
  static override summary = 'Show the identity commands sign with by default.'
  static override description = `Prints the did:key of the default identity: the one named by \`polar config set key NAME\`, else "default". Exit 3 when it does not exist yet (\`polar keygen\` creates it; push, erase and trust create "default" on first use). No node is needed.`

  static override examples = [
    '<%= config.bin %> whoami',
    '<%= config.bin %> whoami --json',
  ]

  async run(): Promise<{name: string; did: string}> {
    const {flags} = await this.parse(Whoami)
    const home = this.resolveHome(flags)
    const {readClientConfig} = await import('../lib/client-config.js')
    const name = readClientConfig(home).key ?? DEFAULT_KEY_NAME
    const {did} = new KeyStore(home).load(name)
    if (!this.jsonEnabled()) {
      this.log(did)
      this.note(`identity "${name}" in ${home}/keys`)
    }
    return {name, did}
  }
}
