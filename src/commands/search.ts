import {PendingCommand} from '../lib/cli/pending-command.js'

export default class Search extends PendingCommand {
  static override summary = 'Find object records locally and on the network (not implemented yet)'
  static override description = 'Find object records locally and on the network. This command is registered but arrives with the "erase, search and trust" issue; until then it exits 1.'
  static override examples = ['<%= config.bin %> search holiday --tag 2026']
  static override strict = false
  static override issue = 'erase, search and trust'
}
