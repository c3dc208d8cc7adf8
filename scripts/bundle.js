// Bundles the commands, the library and @oclif/core into dist/ with shared
// chunks: a scripted call then loads a handful of files instead of ~200
// (module loading was two thirds of `polar pull`'s start-up; docs/benchmarks.md).
// Native and rarely used modules stay external and load lazily.
import {build} from 'esbuild'
import {readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'

const walk = (dir) => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? walk(join(dir, f)) : f.endsWith('.ts') ? [join(dir, f)] : []))
const commands = [...walk('src/commands'), ...walk('src/hooks')]
await build({
  entryPoints: ['src/index.ts', 'src/fast-pull.ts', ...commands],
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
