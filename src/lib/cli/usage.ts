/**
 * oclif's parse errors, said the way polar says things (issue 19): one line
 * that names what is missing or wrong and where the help is, instead of
 * oclif's raw texts ("Missing 1 required arg: … Note: --tag allows multiple
 * values. Because of this you need to provide all arguments before providing
 * that flag" on `polar push` with no file, although polar's --tag takes one
 * value per use; "The following error occurred: Missing required flag
 * weight"). The code stays USAGE (exit 2).
 */
export interface UsageContext {
  /** oclif's command id (`trust:add`). */
  id: string
  bin: string
  flags: Record<string, {description?: string; char?: string} | undefined>
}

interface ParseError {
  message: string
  /** RequiredArgsError: the arguments that are missing. */
  args?: Array<{name?: string; description?: string}>
}

export function usageMessage(err: ParseError, ctx: UsageContext): string {
  const help = `see \`${ctx.bin} ${ctx.id.replaceAll(':', ' ')} --help\``
  // oclif may colour parts of the text (FailedFlagValidationError dims the reasons).
  const text = err.message.replace(/\x1b\[[0-9;]*m/g, '').replace(/\s*See more help with --help\s*$/, '')
  if (/^Missing \d+ required args?/.test(text) && Array.isArray(err.args) && err.args.length > 0) {
    const missing = err.args.map((a) => `${(a.name ?? 'argument').toUpperCase()}${a.description ? ` (${a.description})` : ''}`)
    return `missing ${missing.join(' and ')}; ${help}`
  }
  const flags = [...text.matchAll(/Missing required flag (\S+)/g)].map((m) => m[1])
  if (flags.length > 0) {
    const missing = flags.map((f) => `--${f}${ctx.flags[f]?.description ? ` (${ctx.flags[f]!.description})` : ''}`)
    return `missing ${missing.join(' and ')}; ${help}`
  }
  const parsing = /^Parsing (--?\S+)\s+Expected (.*) but received: (.*)$/s.exec(text)
  if (parsing) return `${parsing[1]} must be ${parsing[2].trim()}, got ${JSON.stringify(parsing[3].trim())}; ${help}`
  const unknown = /^Nonexistent flags?: (.*)$/.exec(text)
  if (unknown) return `unknown flag ${unknown[1]}; ${help}`
  const bare = /^Flag (--?\S+) expects a value$/.exec(text)
  if (bare) return `${bare[1]} needs a value; ${help}`
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean)
  return `${lines.join(' ')}; ${help}`
}
