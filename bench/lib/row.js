// One result row: medians, the median of the per-pair ratios, the goal and
// whether it is met.

import {median, min, max} from './stats.js'

/**
 * name, peer: labels. unit: of the polar/peer values. samples: {polar, peer}
 * (paired, same length). ratioOf(polarSample, peerSample): ratio of one pair,
 * oriented so the goal reads naturally (throughput: polar/peer; time:
 * polar/peer). goal: {op: '>=' | '<=', value}. informational: goal not
 * binding. note: what a reader must know to read the figure (a condition the
 * bench could not meet, a breakdown); shown under the table.
 */
export function makeRow({name, peer, unit, samples, ratioOf, ratioDefinition, goal, informational = false, better, note, details = {}}) {
  const n = Math.min(samples.polar.length, samples.peer.length)
  const pairs = []
  for (let i = 0; i < n; i++) pairs.push(ratioOf(samples.polar[i], samples.peer[i]))
  const polar = median(samples.polar)
  const peerValue = median(samples.peer)
  const ratio = median(pairs)
  const met = goal.op === '>=' ? ratio >= goal.value : ratio <= goal.value
  return {
    name,
    peer,
    polar: round(polar),
    peerValue: round(peerValue),
    unit,
    ratio: round(ratio, 3),
    ratioOfMedians: round(ratioOf(polar, peerValue), 3),
    ratioDefinition,
    goal: `${goal.op} ${goal.value.toFixed(1)}`,
    goalOp: goal.op,
    goalValue: goal.value,
    informational,
    better,
    met,
    status: 'ok',
    runs: n,
    spread: {polar: [round(min(samples.polar)), round(max(samples.polar))], peer: [round(min(samples.peer)), round(max(samples.peer))], ratio: [round(min(pairs), 3), round(max(pairs), 3)]},
    samples: {polar: samples.polar.map((x) => round(x)), peer: samples.peer.map((x) => round(x)), ratio: pairs.map((x) => round(x, 3))},
    ...(note ? {note} : {}),
    ...details,
  }
}

/** A row that could not be measured (peer tool missing, polar failed, CIDs differ). */
export function failedRow({name, peer, unit, goal, informational = false, better, status, error, note}) {
  return {
    name, peer, polar: null, peerValue: null, unit, ratio: null,
    goal: `${goal.op} ${goal.value.toFixed(1)}`, goalOp: goal.op, goalValue: goal.value,
    informational, better, met: false, status, error, ...(note ? {note} : {}),
  }
}

export function round(x, digits = 2) {
  if (!Number.isFinite(x)) return x
  const f = 10 ** digits
  return Math.round(x * f) / f
}
