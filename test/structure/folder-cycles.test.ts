// Issue 14 point 2: no import cycle between the folders of src/lib, type-only imports
// included. dependency-cruiser parses the sources (with TypeScript's own parser, so
// `import type` counts); this file folds the file graph into a folder graph and looks for
// cycles in it, so a new cycle fails the suite and names the files that make it.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'
import {cruise} from 'dependency-cruiser'

const root = fileURLToPath(new URL('../..', import.meta.url))

/** 'src/lib/store/db.ts' -> 'store'; top-level files of src/lib stay themselves. */
const folderOf = (path: string): string | null => {
  const m = /^src\/lib\/([^/]+)(\/)?/.exec(path)
  if (!m) return null
  return m[2] ? m[1] : m[1].replace(/\.ts$/, '')
}

/** Every cycle of a directed graph, one per strongly connected component (Tarjan). */
export function components(graph: Map<string, Set<string>>): string[][] {
  let index = 0
  const idx = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const on = new Set<string>()
  const out: string[][] = []
  const visit = (v: string): void => {
    idx.set(v, index)
    low.set(v, index++)
    stack.push(v)
    on.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!))
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = []
      let w: string
      do {
        w = stack.pop()!
        on.delete(w)
        comp.push(w)
      } while (w !== v)
      if (comp.length > 1) out.push(comp.sort())
    }
  }
  for (const v of graph.keys()) if (!idx.has(v)) visit(v)
  return out
}

describe('source structure', () => {
  it('the cycle finder finds a planted cycle and nothing in a chain', () => {
    const g = (edges: [string, string][]) => {
      const m = new Map<string, Set<string>>()
      for (const [a, b] of edges) {
        if (!m.has(a)) m.set(a, new Set())
        if (!m.has(b)) m.set(b, new Set())
        m.get(a)!.add(b)
      }
      return m
    }
    assert.deepEqual(components(g([['a', 'b'], ['b', 'c']])), [])
    assert.deepEqual(components(g([['a', 'b'], ['b', 'c'], ['c', 'a'], ['c', 'd']])), [['a', 'b', 'c']])
  })

  it('no import cycle between folders of src/lib (type-only imports included)', {timeout: 120_000}, async () => {
    const result = await cruise(['src/lib'], {
      baseDir: root,
      tsPreCompilationDeps: true,
      doNotFollow: {path: 'node_modules'},
      exclude: {path: 'node_modules'},
    })
    const output = result.output as {modules: {source: string; dependencies: {resolved: string}[]}[]}
    assert.ok(output.modules.length > 50, `dependency-cruiser saw only ${output.modules.length} modules`)
    const graph = new Map<string, Set<string>>()
    const why = new Map<string, string>()
    for (const mod of output.modules) {
      const from = folderOf(mod.source)
      if (!from) continue
      if (!graph.has(from)) graph.set(from, new Set())
      for (const dep of mod.dependencies) {
        const to = folderOf(dep.resolved)
        if (!to || to === from) continue
        graph.get(from)!.add(to)
        if (!why.has(`${from}>${to}`)) why.set(`${from}>${to}`, `${mod.source} -> ${dep.resolved}`)
      }
    }
    const cycles = components(graph)
    const explain = cycles.map((c) => c.join(' <-> ') + '\n' + [...why].filter(([k]) => c.includes(k.split('>')[0]) && c.includes(k.split('>')[1])).map(([, v]) => '    ' + v).join('\n'))
    assert.deepEqual(cycles, [], `folder cycles in src/lib:\n${explain.join('\n')}`)
  })
})
