import Autocomplete from '@oclif/plugin-autocomplete/lib/commands/autocomplete/index.js'

/**
 * `polar autocomplete [bash|zsh|powershell]`: shell completion, from
 * @oclif/plugin-autocomplete (issue 19). Bundled as polar's own command (not
 * registered as a plugin) so it loads only when run. It writes completion
 * scripts for every command and flag to polar's cache directory
 * (~/.cache/polar/autocomplete) and prints how to hook them into the shell;
 * completing then runs no polar process.
 */
export default class extends Autocomplete {
  static override summary = 'Set up shell completion (bash, zsh or powershell) for polar.'
}
