// Trust scores (CLI.md "Trust scores") against a brute-force enumeration of
// every simple path of at most 3 hops, on hand-made and random weighted graphs.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import fc from 'fast-check'
import {allScores, MAX_LISTED_PATHS, trustScore, type TrustGraph} from '../../src/lib/trust/score.js'

type Edges = Record<string, Record<string, number>>
const graphOf = (edges: Edges): TrustGraph => ({out: (d) => Object.entries(edges[d] ?? {}).map(([did, weight]) => ({did, weight}))})

/** The definition, literally: every path from `self` of 1..3 hops with no repeated identity, product of weight/sum. */
function bruteForce(edges: Edges, self: string, target: string): number {
  if (self === target) return 1
  const frac = (a: string, b: string) => {
    const out = edges[a] ?? {}
    const sum = Object.entries(out).filter(([d]) => d !== a).reduce((s, [, w]) => s + w, 0)
    return b === a || !(b in out) ? 0 : out[b] / sum
  }
  let total = 0
  const walk = (path: string[], w: number) => {
    const last = path.at(-1)!
    if (last === target && path.length > 1) {
      total += w
      return
    }
    if (path.length > 3) return
    for (const next of Object.keys(edges[last] ?? {})) if (!path.includes(next)) walk([...path, next], w * frac(last, next))
  }
  walk([self], 1)
  return total
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b))

describe('trust score', () => {
  // me → a (1), me → b (3); a → t (1), a → c (1); b → t (1); t → d; c → me (a cycle back), c → a
  const edges: Edges = {
    me: {a: 1, b: 3},
    a: {t: 1, c: 1},
    b: {t: 1},
    t: {d: 1},
    c: {me: 1, a: 1},
    d: {e: 1},
  }
  const g = graphOf(edges)

  it('is 1 for yourself and the sum over both paths for a key reached two ways', () => {
    assert.equal(trustScore(g, 'me', 'me').score, 1)
    const t = trustScore(g, 'me', 't')
    // me→a→t: 1/4 · 1/2; me→b→t: 3/4 · 1
    assert.ok(close(t.score, 0.25 * 0.5 + 0.75))
    assert.deepEqual(t.paths.map((p) => p.path), [['me', 'b', 't'], ['me', 'a', 't']])
  })

  it('counts a 3-hop key and nothing past 3 hops', () => {
    // d: me→a→t→d (1/8) and me→b→t→d (3/4)
    assert.ok(close(trustScore(g, 'me', 'd').score, 0.125 + 0.75))
    // e is 4 hops away on every path
    assert.equal(trustScore(g, 'me', 'e').score, 0)
    assert.deepEqual(trustScore(g, 'me', 'e').paths, [])
  })

  it('ignores cycles: no path visits an identity twice', () => {
    // a: me→a directly (1/4); me→a→c→a would revisit a; c→me is a cycle back to you
    assert.ok(close(trustScore(g, 'me', 'a').score, 0.25))
    // c: me→a→c (1/8)
    assert.ok(close(trustScore(g, 'me', 'c').score, 0.125))
    for (const x of ['a', 'b', 'c', 't', 'd', 'e']) assert.ok(close(trustScore(g, 'me', x).score, bruteForce(edges, 'me', x)), x)
  })

  it('with equal weights is the draft\'s 1/N1 and 1/N1/M[i]', () => {
    const eq: Edges = {me: {a: 1, b: 1, c: 1}, a: {x: 1, y: 1}}
    assert.ok(close(trustScore(graphOf(eq), 'me', 'a').score, 1 / 3))
    assert.ok(close(trustScore(graphOf(eq), 'me', 'x').score, 1 / 3 / 2))
  })

  it('lists at most MAX_LISTED_PATHS paths, the largest, and counts them all', () => {
    // me → 12 → 12 → t: 144 three-hop paths of weights 1/144 ... with one heavier branch.
    const e: Edges = {me: {}}
    for (let i = 0; i < 12; i++) {
      e.me[`a${i}`] = i === 0 ? 5 : 1
      e[`a${i}`] = {}
      for (let j = 0; j < 12; j++) {
        e[`a${i}`][`b${j}`] = 1
        e[`b${j}`] = {t: 1}
      }
    }
    const s = trustScore(graphOf(e), 'me', 't')
    assert.equal(s.pathCount, 144)
    assert.equal(s.paths.length, MAX_LISTED_PATHS)
    assert.ok(close(s.score, bruteForce(e, 'me', 't')))
    assert.ok(s.paths.every((p, i) => i === 0 || p.weight <= s.paths[i - 1].weight), 'largest first')
    assert.equal(s.paths[0].path[1], 'a0', 'the heavier branch leads')
  })

  it('matches brute force on random graphs (property)', () => {
    const names = ['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6']
    const graph = fc.dictionary(fc.constantFrom(...names), fc.dictionary(fc.constantFrom(...names), fc.double({min: 0.001, max: 1000, noNaN: true}), {maxKeys: 5}), {maxKeys: 7})
      .map((e) => Object.fromEntries(Object.entries(e).map(([k, v]) => [k, Object.fromEntries(Object.entries(v).filter(([d]) => d !== k))])))
    fc.assert(fc.property(graph, fc.constantFrom(...names), fc.constantFrom(...names), (edges, self, target) => {
      const got = trustScore(graphOf(edges), self, target)
      const want = bruteForce(edges, self, target)
      assert.ok(close(got.score, want), `${got.score} vs ${want}`)
      assert.ok(got.pathCount <= MAX_LISTED_PATHS ? close(got.paths.reduce((s, p) => s + p.weight, 0), self === target ? 1 : want) : got.paths.length === MAX_LISTED_PATHS)
      for (const p of got.paths) {
        assert.equal(new Set(p.path).size, p.path.length, 'a path visits no identity twice')
        assert.ok(p.path.length - 1 <= 3)
      }
      const all = allScores(graphOf(edges), self)
      assert.ok(close(all.get(target) ?? 0, want), `allScores ${all.get(target)} vs ${want}`)
    }), {numRuns: 300})
  })
})
