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
  for (let i = 0; i < warmup; i++) {
    await polar(); await between()
    await peer(); await between()
  }
  const out = {polar: [], peer: []}
  for (let i = 0; i < runs; i++) {
    const order = i % 2 === 0 ? ['polar', 'peer'] : ['peer', 'polar']
    for (const side of order) {
      const v = await (side === 'polar' ? polar() : peer())
      out[side].push(v)
      await between()
    }
    log(`  pair ${i + 1}/${runs}: polar ${fmt(out.polar[i])}, peer ${fmt(out.peer[i])}`)
  }
  return out
}

const fmt = (x) => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toPrecision(3))
