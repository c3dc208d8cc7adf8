import {PendingCommand} from '../lib/cli/pending-command.js'

export default class NatTest extends PendingCommand {
  static override summary = 'Ask a peer to dial back to the announced address (not implemented yet)'
  static override description = 'Ask a peer to dial back to the announced address. This command is registered but arrives with the "peers" issue; until then it exits 1.'
  static override examples = ['<%= config.bin %> nat-test --via http://peer.example:7477']
  static override strict = false
  static override issue = 'peers'
}
