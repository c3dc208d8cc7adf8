import {PendingCommand} from '../lib/cli/pending-command.js'

export default class Serve extends PendingCommand {
  static override summary = 'Run a node until SIGINT/SIGTERM (not implemented yet)'
  static override description = 'Run a node until SIGINT/SIGTERM. This command is registered but arrives with the "node" issue; until then it exits 1.'
  static override examples = ['<%= config.bin %> serve --listen 127.0.0.1:0 --json']
  static override issue = 'node'
}
