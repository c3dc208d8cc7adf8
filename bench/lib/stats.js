// Medians and the alternating run loop every row uses.

export function median(xs) {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

export const min = (xs) => Math.min(...xs)
export const max = (xs) => Math.max(...xs)

/**
 * Alternate polar and peer runs on a noisy machine: `warmup` untimed rounds,
 * then `runs` pairs. The order inside a pair flips every pair (polar-peer,
 * peer-polar, …) so neither side always runs just after the other.
 * polar/peer: async () => number (one sample). between: async () => void, run
 * after every single run (clean-up, sync) and never timed.
 * Returns {polar: number[], peer: number[]} (pair i = polar[i], peer[i]).
 */
export async function alternate({runs, warmup = 0, polar, peer, between = async () => {}, log = () => {}}) {
  return rotate({runs, warmup, arms: {polar, peer}, between, log})
}

/**
 * The same for more than two sides measured side by side (e.g. one pull, the
 * peer tool and a second polar variant): `arms` = {name: async () => number}.
 * Round i runs every arm once, in the arms' order rotated by i and reversed
 * every other round (two arms: a-b, b-a, a-b, …; three: abc, cba, bca, acb,
 * cab, bac), so no arm keeps the same neighbour or position. Returns {name:
 * number[]}: sample i of every arm comes from round i (the per-round ratios of
 * any two arms are the "pairs").
 */
export async function rotate({runs, warmup = 0, arms, between = async () => {}, log = () => {}}) {
  const names = Object.keys(arms)
  const order = (i) => {
    const shift = names.length > 2 ? Math.floor(i / 2) : 0
    const r = names.map((_, k) => names[(k + shift) % names.length])
    return i % 2 === 0 ? r : r.reverse()
  }
  for (let i = 0; i < warmup; i++) {
    for (const name of order(i)) { await arms[name](); await between() }
  }
  const out = Object.fromEntries(names.map((n) => [n, []]))
  for (let i = 0; i < runs; i++) {
    for (const name of order(i)) {
      out[name].push(await arms[name]())
      await between()
    }
    log(`  ${names.length === 2 ? 'pair' : 'round'} ${i + 1}/${runs}: ${names.map((n) => `${n} ${fmt(out[n][i])}`).join(', ')}`)
  }
  return out
}

const fmt = (x) => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toPrecision(3))
