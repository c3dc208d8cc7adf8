import {PolarCommand} from '../lib/cli/base-command.js'
import {KeyStore} from '../lib/identity/index.js'

type KeyEntry = {name: string; did: string | null; created: string; path: string; error?: string}

export default class Keys extends PolarCommand {
  static override summary = 'List the identities of this home.'
  static override description = `Lists every identity in POLAR_HOME/keys: its name, its did:key and when it was created (the key file's time). An identity whose file cannot be read is listed with the reason (did: null). No node is needed.

\`polar whoami\` shows the one commands sign with by default.`

  static override examples = [
    '<%= config.bin %> keys',
    '<%= config.bin %> keys --json',
    '<%= config.bin %> keys --home /srv/polar',
  ]

  async run(): Promise<KeyEntry[]> {
    const {flags} = await this.parse(Keys)
    const home = this.resolveHome(flags)
    const entries = new KeyStore(home).describe()
    if (!this.jsonEnabled()) {
      if (entries.length === 0) this.note(`no identity in ${home}/keys yet; create one with \`polar keygen\``)
      const width = Math.max(4, ...entries.map((e) => e.name.length))
      if (entries.length > 0) this.log(`${'NAME'.padEnd(width)}  ${'CREATED'.padEnd(24)}  DID`)
      for (const e of entries) this.log(`${e.name.padEnd(width)}  ${e.created.padEnd(24)}  ${e.did ?? `(unreadable: ${e.error})`}`)
    }
    return entries
  }
}
