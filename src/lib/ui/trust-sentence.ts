import type {ScoreResult} from '../client/index.js'

/** A score as people write it: at most 3 decimals, no trailing zeros. */
function num(x: number): string {
  return String(Math.round(x * 1000) / 1000)
}

function hops(n: number): string {
  return n === 1 ? 'direct' : `${n} hops long`
}

/**
 * `polar trust score` in words (issue 19 point 8; the rule is CLI.md "Trust
 * scores"): the score, how many paths carry it and the strongest one, instead
 * of `1 / 1 path(s): 1 hop(s) 1`.
 */
export function scoreSentence(r: ScoreResult): string {
  const top = r.paths[0]
  if (top && top.path.length === 1) return `${r.did} is you: your own trust is 1.`
  if (r.pathCount === 0 || !top) return `You do not trust ${r.did}: no path of at most 3 hops leads from you to it (score 0).`
  const count = r.pathCount === 1 ? 'one path' : `${r.pathCount} paths`
  const strongest = r.pathCount === 1 ? `it is ${hops(top.path.length - 1)}` : `the strongest is ${hops(top.path.length - 1)} (${num(top.weight)})`
  return `You trust ${r.did} ${num(r.score)} (your own trust is 1), through ${count}: ${strongest}.`
}
