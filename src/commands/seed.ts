import {PendingCommand} from '../lib/cli/pending-command.js'

export default class Seed extends PendingCommand {
  static override summary = 'Send a seed request to each URL, then register with the peers learned (not implemented yet)'
  static override description = 'Send a seed request to each URL, then register with the peers learned. This command is registered but arrives with the "peers" issue; until then it exits 1.'
  static override examples = ['<%= config.bin %> seed http://node0.example:7477']
  static override strict = false
  static override issue = 'peers'
}
