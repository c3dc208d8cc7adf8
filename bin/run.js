#!/usr/bin/env node
// A node is a long-lived process holding few young objects (block bytes live
// outside the JS heap): small semi-spaces keep an idle node's RSS down.
if (process.argv[2] === 'serve') (await import('node:v8')).setFlagsFromString('--max-semi-space-size=4')
const {execute} = await import('../dist/index.js')

await execute({dir: import.meta.url})
