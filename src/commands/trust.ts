import {PendingCommand} from '../lib/cli/pending-command.js'

export default class Trust extends PendingCommand {
  static override summary = 'Manage your web of trust (add, rm, ls, score) (not implemented yet)'
  static override description = 'Manage your web of trust (add, rm, ls, score). This command is registered but arrives with the "erase, search and trust" issue; until then it exits 1.'
  static override examples = ['<%= config.bin %> trust add did:key:z6Mk... --weight 2']
  static override strict = false
  static override issue = 'erase, search and trust'
}
