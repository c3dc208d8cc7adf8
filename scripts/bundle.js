// Bundles the commands, the library and @oclif/core into dist/ with shared
// chunks: a scripted call then loads a handful of files instead of ~200
// (module loading was two thirds of `polar pull`'s start-up; docs/benchmarks.md).
// Native and rarely used modules stay external and load lazily.
import {build} from 'esbuild'
import {readdirSync} from 'node:fs'

const commands = readdirSync('src/commands').filter((f) => f.endsWith('.ts')).map((f) => `src/commands/${f}`)
await build({
  entryPoints: ['src/index.ts', ...commands],
  outdir: 'dist',
  outbase: 'src',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: false,
  external: ['better-sqlite3', 'ink', 'react', 'typescript', 'ts-node', 'tsx', 'ipfs-unixfs-importer'],
  // CommonJS dependencies (oclif) call require(); give the ESM bundle one.
  banner: {js: "import {createRequire as __polarRequire} from 'node:module'; const require = __polarRequire(import.meta.url);"},
  chunkNames: 'chunks/[name]-[hash]',
  logLevel: 'warning',
})
