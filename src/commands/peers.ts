import {PendingCommand} from '../lib/cli/pending-command.js'

export default class Peers extends PendingCommand {
  static override summary = 'Show and manage the peer table (add, rm, ping, --watch) (not implemented yet)'
  static override description = 'Show and manage the peer table (add, rm, ping, --watch). This command is registered but arrives with the "peers" issue; until then it exits 1.'
  static override examples = ['<%= config.bin %> peers --json']
  static override issue = 'peers'
}
