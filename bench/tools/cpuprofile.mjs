#!/usr/bin/env node
// Where a polar process spends its time, from a V8 CPU profile:
//   node --cpu-prof --cpu-prof-dir=/tmp/prof bin/run.js push FILE -q
//   node bench/tools/cpuprofile.mjs /tmp/prof/CPU.*.cpuprofile [REGEX] [N]
// Prints self time by file (node_modules packages folded) and by function,
// then inclusive time by function (filtered by REGEX when given).
import {readFileSync} from 'node:fs'

const [file, pattern, count] = process.argv.slice(2)
if (!file) {
  process.stderr.write('usage: node bench/tools/cpuprofile.mjs FILE.cpuprofile [REGEX] [N]\n')
  process.exit(2)
}
const p = JSON.parse(readFileSync(file, 'utf8'))
const n = Number(count) || 25
const byId = new Map(p.nodes.map((x) => [x.id, x]))
const parent = new Map()
for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id)
const self = new Map()
for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0))

const short = (url) => url.replace(/^file:\/\//, '').replace(/.*\/node_modules\/((@[^/]+\/)?[^/]+)\/.*/, 'node_modules/$1').replace(/.*\/(dist|src|bench)\//, '$1/')
const fnKey = (cf) => `${cf.functionName || '(anonymous)'}  ${short(cf.url) || '(native)'}:${cf.lineNumber + 1}`
const add = (m, k, v) => m.set(k, (m.get(k) ?? 0) + v)

let total = 0
const byFile = new Map()
const byFn = new Map()
const incl = new Map()
for (const [id, us] of self) {
  total += us
  const cf = byId.get(id).callFrame
  add(byFile, cf.url ? short(cf.url) : `(${cf.functionName})`, us)
  add(byFn, fnKey(cf), us)
  const seen = new Set()
  for (let x = id; x != null; x = parent.get(x)) {
    const k = fnKey(byId.get(x).callFrame)
    if (!seen.has(k)) { seen.add(k); add(incl, k, us) }
  }
}
const re = pattern ? new RegExp(pattern) : null
const show = (title, m, filter = () => true) => {
  console.log(`-- ${title}`)
  for (const [k, v] of [...m].filter(([k]) => filter(k)).sort((a, b) => b[1] - a[1]).slice(0, n)) {
    console.log(`${(v / 1000).toFixed(1).padStart(8)} ms ${(100 * v / total).toFixed(1).padStart(5)}%  ${k}`)
  }
}
console.log(`profile: ${(total / 1000).toFixed(0)} ms sampled`)
show('self time by file', byFile)
show('self time by function', byFn)
show(`inclusive time by function${re ? ` matching ${re}` : ''}`, incl, (k) => !re || re.test(k))
