import type {Hook} from '@oclif/core'

/**
 * An unknown command is bad usage (exit 2), and under --json it still prints
 * the one JSON error document CLI.md promises.
 */
const hook: Hook<'command_not_found'> = async function (opts) {
  const message = `unknown command "${opts.id.replaceAll(':', ' ')}"; see \`${opts.config.bin} --help\` for the commands`
  if (opts.argv?.includes('--json')) process.stdout.write(JSON.stringify({error: {code: 'USAGE', message}}) + '\n')
  else process.stderr.write(`polar: ${message}\n`)
  process.exit(2)
}

export default hook
