#!/usr/bin/env node
// A node is a long-lived process holding few young objects (block bytes live
// outside the JS heap): small semi-spaces keep an idle node's RSS down.
if (process.argv[2] === 'serve') (await import('node:v8')).setFlagsFromString('--max-semi-space-size=4')
// `polar pull` through a running node skips loading oclif when its arguments
// are plain (src/lib/cli/fast-pull.ts); anything else runs the full CLI.
const fast = process.argv[2] === 'pull' ? await (await import('../dist/fast-pull.js')).fastPull(process.argv.slice(3)) : undefined
if (fast !== undefined) {
  process.exitCode = fast
} else {
  const {execute} = await import('../dist/index.js')
  await execute({dir: import.meta.url})
}
