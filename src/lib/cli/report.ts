/**
 * How a failed command reports its error (CLI.md "Errors"): with `--json`, one
 * line `{"error": {code, message}}` on stdout; otherwise `polar: message` on
 * stderr (and the stack with POLAR_DEBUG set). The exit code is the caller's.
 */
export function printError(code: string, message: string, json: boolean, stack?: string): void {
  if (json) {
    process.stdout.write(JSON.stringify({error: {code, message}}) + '\n')
  } else {
    process.stderr.write(`polar: ${message}\n`)
    if (process.env.POLAR_DEBUG && stack) process.stderr.write(stack + '\n')
  }
}
