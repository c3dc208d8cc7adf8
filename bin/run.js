#!/usr/bin/env node
import {setFlagsFromString} from 'node:v8'
if (process.argv[2] === 'serve') setFlagsFromString('--max-semi-space-size=4')
const {execute} = await import('../dist/index.js')

await execute({dir: import.meta.url})
