/**
 * Trust scores (CLI.md "Trust scores"; Planet draft "Web of trust"): your own
 * identity has trust 1 and every identity passes its trust on to those it
 * trusts, split in proportion to its weights (weight / sum of its weights).
 * The score of X is the sum, over every path from you to X of at most
 * MAX_HOPS hops that visits no identity twice, of the product of the
 * fractions along it. With equal weights: 1/N1 for a key you trust directly,
 * 1/N1/M[i] one layer further.
 */
export const MAX_HOPS = 3

/** Out-edges with raw weights (positive). A missing truster trusts nobody. */
export interface TrustGraph {
  out(did: string): ReadonlyArray<{did: string; weight: number}>
}

export interface TrustPath {
  /** From you to the identity scored, both ends included. */
  path: string[]
  /** The product of the fractions along the path. */
  weight: number
}

export interface TrustScore {
  did: string
  score: number
  /** The largest contributing paths, at most MAX_LISTED_PATHS of them. */
  paths: TrustPath[]
  /** How many paths contribute in all. */
  pathCount: number
}

/** Paths listed with a score (a 3-hop graph of full records can have millions). */
export const MAX_LISTED_PATHS = 100

/** A graph's out-edges as fractions (weight / sum of the truster's weights), cached per truster. */
class Fractions {
  private readonly cache = new Map<string, Map<string, number>>()
  constructor(private readonly graph: TrustGraph) {}

  of(did: string): Map<string, number> {
    let m = this.cache.get(did)
    if (!m) {
      m = new Map()
      const edges = this.graph.out(did)
      let sum = 0
      for (const e of edges) if (e.did !== did && Number.isFinite(e.weight) && e.weight > 0) sum += e.weight
      if (sum > 0) for (const e of edges) if (e.did !== did && Number.isFinite(e.weight) && e.weight > 0) m.set(e.did, (m.get(e.did) ?? 0) + e.weight / sum)
      this.cache.set(did, m)
    }
    return m
  }
}

/**
 * The score of `target` seen from `self`, with the contributing paths.
 * Walks at most |out(self)| × |out(a)| pairs and looks the last hop up
 * directly, so a 3-hop score costs O(N1·M), not O(N1·M·K).
 */
export function trustScore(graph: TrustGraph, self: string, target: string, {withPaths = true} = {}): TrustScore {
  if (self === target) return {did: target, score: 1, paths: withPaths ? [{path: [self], weight: 1}] : [], pathCount: 1}
  const f = new Fractions(graph)
  const paths: TrustPath[] = []
  let score = 0
  let pathCount = 0
  const add = (path: string[], w: number) => {
    score += w
    pathCount++
    if (withPaths) paths.push({path, weight: w})
  }
  for (const [a, wa] of f.of(self)) {
    if (a === self) continue
    if (a === target) {
      add([self, a], wa)
      continue
    }
    for (const [b, wb] of f.of(a)) {
      if (b === self || b === a) continue
      if (b === target) {
        add([self, a, b], wa * wb)
        continue
      }
      const wc = f.of(b).get(target)
      if (wc !== undefined) add([self, a, b, target], wa * wb * wc)
    }
  }
  paths.sort((x, y) => y.weight - x.weight || x.path.length - y.path.length)
  return {did: target, score, paths: paths.slice(0, MAX_LISTED_PATHS), pathCount}
}

/** Every identity with a positive score from `self` (self included, at 1). */
export function allScores(graph: TrustGraph, self: string): Map<string, number> {
  const f = new Fractions(graph)
  const scores = new Map<string, number>([[self, 1]])
  const bump = (d: string, w: number) => scores.set(d, (scores.get(d) ?? 0) + w)
  const walk = (node: string, visited: string[], w: number, hops: number) => {
    for (const [next, wn] of f.of(node)) {
      if (visited.includes(next)) continue
      bump(next, w * wn)
      if (hops + 1 < MAX_HOPS) walk(next, [...visited, next], w * wn, hops + 1)
    }
  }
  walk(self, [self], 1, 0)
  return scores
}
