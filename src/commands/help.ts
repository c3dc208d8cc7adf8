import {commands} from '@oclif/plugin-help'

/**
 * `polar help [COMMAND…]`: the oclif convention (issue 19: `polar help push`
 * was an unknown command). @oclif/plugin-help's command, bundled as one of
 * polar's own commands rather than registered as a plugin (which made every
 * call read the plugins' manifests: docs/architecture.md, "Start-up"); oclif
 * loads a command's file only when that command runs.
 */
export default class Help extends commands.help {
  static override summary = 'Show help for polar, or for one of its commands.'
  static override description = 'The same text as `polar COMMAND --help`. With --nested-commands, the commands under a topic are listed too.'
  static override examples = ['<%= config.bin %> help push', '<%= config.bin %> help trust add', '<%= config.bin %> help peers --nested-commands']

  override async run(): Promise<void> {
    try {
      await super.run()
    } catch (err) {
      // oclif's " ›   Error: Command frob not found.": said as for `polar frob` (src/hooks/command-not-found.ts), exit 2.
      if (!/^Command .* not found/.test((err as Error).message)) throw err
      const id = this.argv.filter((a) => !a.startsWith('-')).join(' ')
      process.stderr.write(`polar: unknown command "${id}"; see \`${this.config.bin} --help\` for the commands\n`)
      this.exit(2)
    }
  }
}
