// Bundles the commands, the library and @oclif/core into dist/ with shared
// chunks: a scripted call then loads a handful of files instead of ~200
// (module loading was two thirds of `polar pull`'s start-up; docs/benchmarks.md).
// Native and rarely used modules stay external and load lazily.
//
// The bundle is built aside (.dist-stage-PID) and moved into dist/ file by
// file, so a polar running from this tree during a build always finds its
// files (issue 19: `rm -rf dist` first made every call during the build fail
// with ERR_MODULE_NOT_FOUND). Each rename(2) replaces one file atomically;
// chunks (content-hashed names) go in before the commands and entry files
// that import them, and only then are files the new build does not have
// removed. A polar started before the build that lazily loads a chunk the
// new build no longer has can still miss it: the swap cannot keep old code.
import {build} from 'esbuild'
import {mkdirSync, readdirSync, renameSync, rmSync, statSync} from 'node:fs'
import {dirname, join, relative} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const dist = join(root, 'dist')
const stage = join(root, `.dist-stage-${process.pid}`)
const walk = (dir) => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? walk(join(dir, f)) : [join(dir, f)]))
const sources = (dir) => walk(join(root, dir)).filter((f) => f.endsWith('.ts'))

// @oclif/plugin-autocomplete's package.json exports none of its commands;
// polar bundles them as its own (src/commands/autocomplete/), so its files are
// taken by path, as tsconfig.json's "paths" does for the type check.
const pluginFiles = {
  name: 'oclif-plugin-files',
  setup(b) {
    b.onResolve({filter: /^@oclif\/plugin-autocomplete\/lib\//}, (args) => ({path: join(root, 'node_modules', args.path)}))
  },
}

// A build killed half-way leaves its stage behind: clear those first.
for (const f of readdirSync(root)) if (f.startsWith('.dist-stage-')) rmSync(join(root, f), {recursive: true, force: true})

try {
  await build({
    entryPoints: [join(root, 'src/index.ts'), join(root, 'src/fast-pull.ts'), ...sources('src/commands'), ...sources('src/hooks')],
    outdir: stage,
    outbase: join(root, 'src'),
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
    plugins: [pluginFiles],
    logLevel: 'warning',
  })
  const built = walk(stage).map((f) => relative(stage, f))
  // chunks/ first, then commands and hooks, then the entry files bin/run.js loads.
  const rank = (f) => (f.startsWith('chunks/') ? 0 : f.includes('/') ? 1 : 2)
  built.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
  for (const f of built) {
    mkdirSync(dirname(join(dist, f)), {recursive: true})
    renameSync(join(stage, f), join(dist, f))
  }
  const keep = new Set(built)
  for (const f of walk(dist).map((p) => relative(dist, p))) if (!keep.has(f)) rmSync(join(dist, f), {force: true})
} finally {
  rmSync(stage, {recursive: true, force: true})
}
