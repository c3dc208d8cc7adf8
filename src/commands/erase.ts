import {PendingCommand} from '../lib/cli/pending-command.js'

export default class Erase extends PendingCommand {
  static override summary = 'Owner-signed erase of an object on every node that holds it (not implemented yet)'
  static override description = 'Owner-signed erase of an object on every node that holds it. This command is registered but arrives with the "erase, search and trust" issue; until then it exits 1.'
  static override examples = ['<%= config.bin %> erase bafy...']
  static override strict = false
  static override issue = 'erase, search and trust'
}
