import {PendingCommand} from '../../lib/cli/pending-command.js'

export default class PeersPing extends PendingCommand {
  static override strict = false
  static override summary = 'Ping a peer and print the round trip (not implemented yet)'
  static override description = 'Ping a peer and print the round trip. This command is registered but arrives with the "peers" issue; until then it exits 1.'
  static override examples = ['<%= config.bin %> peers ping did:key:z6Mk...']
  static override issue = 'peers'
}
