// Fault suite (`npm run chaos [-- --quick]`): real polar nodes on 127.0.0.1,
// faults injected, and a check that nothing is lost and the network recovers.
// One line per scenario, a summary last; exit 1 when anything was lost or a
// scenario failed. See docs/operations.md, "Fault suite".
import {randomBytes} from 'node:crypto'
import {readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {createServer} from 'node:net'
import {setTimeout as delay} from 'node:timers/promises'
import {blockCount, blockList, cleanupAll, flipBytes, hasBlocks, holdsAll, json, locate, packBytes, mesh, MiB, mountTmpfs, Node, removeDir, setCli, sha, snapshotBuild, tempDir, unmount, verifyHome, waitFor} from './lib.mjs'
import {FaultNet, freePort} from './proxy.mjs'
import {connFlood, unreadAnswers} from './hostile.mjs'

if (process.argv.includes('--help')) {
  console.log(`usage: npm run chaos -- [--quick] [--only NAME[,NAME…]]
  --quick  smaller objects, one partition mode (under a minute and a half here; npm run chaos --quick works too)
  --only   run only the scenarios whose name contains one of these (e.g. partition,bit-rot)
Needs a build (npm run build). Scenarios and output: docs/chaos.md.`)
  process.exit(0)
}
// `npm run chaos --quick` (no `--`) reaches us as npm's config, not as an argument.
const QUICK = process.argv.includes('--quick') || process.env.npm_config_quick === 'true'
// Which scenarios to run: `--only NAME[,NAME…]` (substrings of scenario names).
const onlyArg = process.argv.indexOf('--only')
const ONLY = onlyArg > 0 ? (process.argv[onlyArg + 1] ?? '').split(',').filter(Boolean) : []
const wanted = (name) => ONLY.length === 0 || ONLY.some((o) => name.includes(o))
const SCENARIOS = ['kill-mid-push-pull', 'kill-2-of-5-restart', 'restart-db-intact', 'bit-rot-heal', 'partition-heal', 'partition-drop-heal', 'stranger-erase', 'full-disk-node', 'full-disk-embedded', 'hostile-stranger', 'killed-remote-upload', 'conn-flood', 'unread-answers']
{
  const bad = process.argv.slice(2).filter((a, i, all) => a.startsWith('-') ? !['--quick', '--only'].includes(a) : all[i - 1] !== '--only')
  const unmatched = ONLY.filter((o) => !SCENARIOS.some((n) => n.includes(o)))
  if (bad.length || (onlyArg > 0 && ONLY.length === 0) || unmatched.length) {
    console.error(`${bad.length ? `unknown argument(s): ${bad.join(' ')}` : unmatched.length ? `no scenario matches ${unmatched.join(', ')}` : '--only needs NAME[,NAME…]'}; scenarios: ${SCENARIOS.join(', ')} (npm run chaos -- --help)`)
    process.exit(2)
  }
}
const BIG = (QUICK ? 48 : 160) * MiB
const OBJECTS = QUICK ? 5 : 10
const K = 3

setCli(snapshotBuild())
const work = tempDir('polar-chaos-work-')
const results = []
const started = Date.now()

function line(r) {
  const s = `${r.name.padEnd(22)} checked=${String(r.checked).padEnd(3)} lost=${String(r.lost).padEnd(2)} recovery_ms=${String(r.recoveryMs ?? '-').padEnd(6)} ${r.status}${r.note ? `  (${r.note})` : ''}`
  console.log(s)
}

async function scenario(name, fn) {
  if (!wanted(name)) return
  const t0 = Date.now()
  const r = {name, checked: 0, lost: 0, recoveryMs: undefined, status: 'PASS', note: ''}
  try {
    await fn(r)
    if (r.lost > 0) r.status = 'FAIL'
  } catch (err) {
    if (err?.skip) {
      r.status = 'SKIP'
      r.note = err.message
    } else {
      r.status = 'FAIL'
      r.note = `${r.note ? r.note + '; ' : ''}${String(err?.message ?? err).split('\n')[0]}`
      if (process.env.CHAOS_VERBOSE) console.error(err)
    }
  }
  r.ms = Date.now() - t0
  results.push(r)
  line(r)
}

/** Every indexed block of every home verifies; returns the count of bad blocks and notes them. */
function checkHomes(r, nodes) {
  let bad = 0
  let blocks = 0
  for (const n of nodes) {
    const v = verifyHome(n.home)
    blocks += v.blocks
    bad += v.bad.length
  }
  if (bad) throw new Error(`${bad} of ${blocks} indexed blocks do not verify`)
  return blocks
}

function makeFile(name, size) {
  const data = randomBytes(size)
  const file = join(work, name)
  writeFileSync(file, data)
  return {file, sha: sha(data), size}
}

async function pullOk(node, cid, want, timeoutMs = 120_000) {
  const out = join(work, `pull-${cid}-${Date.now()}`)
  const r = await node.polar(['pull', cid, '-o', out], {timeoutMs})
  if (r.code !== 0) return {ok: false, why: `pull exit ${r.code}: ${r.stderr.trim().split('\n').pop()}`}
  const got = sha(readFileSync(out))
  removeDir(out)
  return got === want ? {ok: true} : {ok: false, why: 'pulled bytes differ'}
}

async function stopAll(nodes) {
  await Promise.allSettled(nodes.map((n) => n.stop()))
  for (const n of nodes) removeDir(n.home)
}

// (1) SIGKILL a receiving node mid-push of a large object, and a pulling node mid-pull.
await scenario('kill-mid-push-pull', async (r) => {
  const nodes = [0, 1, 2, 3].map(() => new Node(tempDir('polar-chaos-home-')))
  try {
    const [a, b, c, d] = nodes
    await Promise.all([a, b, c].map((n) => n.start()))
    await mesh([a, b, c])
    const obj = makeFile('big', BIG)
    // Mid-push: kill b as soon as it has indexed some blocks of the object.
    const push = a.polar(['push', obj.file, '--replicas', '3', '--json'])
    let atKill = -1
    // Kill b once a few MiB of the object have reached its pack file (before it has it all).
    await waitFor('b to receive blocks', () => packBytes(b.home) > 4 * MiB, {timeoutMs: 120_000, intervalMs: 5})
    await b.kill()
    atKill = blockCount(b.home)
    const pr = await push
    if (pr.code !== 0 && pr.code !== 5) throw new Error(`push exit ${pr.code}: ${pr.stderr}`)
    const pushed = json(pr)
    const cid = pushed.cid
    const blocks = await blockList(a.url, cid)
    r.checked = 1
    r.note = `push replicas=${pushed.replicas}; b killed holding ${atKill}/${blocks.length} blocks`
    checkHomes(r, [a, b, c])
    // b comes back on its port; repair brings it (or the others) back to 3 full replicas.
    const t0 = Date.now()
    await b.start()
    await waitFor('3 full replicas after the push kill', async () => (await Promise.all([a, b, c].map((n) => holdsAll(n.url, blocks)))).every(Boolean), {timeoutMs: 90_000})
      .catch((e) => { if (process.env.CHAOS_VERBOSE) for (const n of [a, b, c]) console.error(`---- ${n.url}\n` + n.log.slice(-2500)); throw e })

    // Mid-pull: d (fresh, joined to a) pulls; kill d while it holds part of the object.
    await d.start()
    await mesh([d, a])
    const pull = d.polar(['pull', cid, '-o', join(work, 'pulled')])
    await waitFor('d to receive blocks', () => packBytes(d.home) > BIG / 2, {timeoutMs: 120_000, intervalMs: 5})
    await d.kill()
    const kept = blockCount(d.home)
    const pullr = await pull
    r.note += `; d killed mid-pull holding ${kept}/${blocks.length} (pull exit ${pullr.code})`
    checkHomes(r, [a, b, c, d])
    await d.start()
    // Then SIGKILL the pull client (the node keeps running) half-way: what arrived stays indexed.
    let client
    const pull2 = d.polar(['pull', cid, '-o', join(work, 'pulled2')], {onSpawn: (c) => (client = c)})
    const base = statSync(join(d.home, 'blocks', 'pack-000001')).mtimeMs
    await waitFor('d to receive blocks again', () => statSync(join(d.home, 'blocks', 'pack-000001')).mtimeMs !== base && packBytes(d.home) > BIG / 2, {timeoutMs: 60_000, intervalMs: 5})
    client.kill('SIGKILL')
    await pull2
    await delay(1000)
    const kept2 = blockCount(d.home)
    r.note += `; pull client killed, node kept ${kept2}/${blocks.length}`
    checkHomes(r, [d])
    const p = await pullOk(d, cid, obj.sha)
    if (!p.ok) r.lost = 1, r.note += `; resumed pull failed: ${p.why}`
    r.recoveryMs = Date.now() - t0
    checkHomes(r, [a, b, c, d])
    if (kept >= blocks.length) r.note += '; kill landed after the pull finished (not mid-pull)'
    if (atKill >= blocks.length) r.note += '; kill landed after b had everything (not mid-push)'
  } finally {
    await stopAll(nodes)
    removeDir(join(work, 'big'))
  }
})

// (2)+(3)+(4) share one 5-node cluster.
const five = [0, 1, 2, 3, 4].map(() => new Node(tempDir('polar-chaos-home-')))
const objects = []
let clusterUp = false
if (['kill-2-of-5-restart', 'restart-db-intact', 'bit-rot-heal'].some(wanted)) try {
  await Promise.all(five.map((n) => n.start()))
  await mesh(five)
  for (let i = 0; i < OBJECTS; i++) {
    const o = makeFile(`obj-${i}`, [100, 300 * 1024, MiB + 1, 2 * MiB + 5, 3 * MiB - 17][i % 5])
    const pr = await five[0].polar(['push', o.file, '--replicas', String(K), '--json'])
    if (pr.code !== 0) throw new Error(`push ${i}: exit ${pr.code} ${pr.stderr}`)
    const res = json(pr)
    objects.push({...o, cid: res.cid, nodes: res.nodes, blocks: await blockList(five[0].url, res.cid)})
  }
  clusterUp = true
} catch (err) {
  results.push({name: 'five-node-setup', checked: 0, lost: 0, status: 'FAIL', note: err.message.split('\n')[0]})
  line(results.at(-1))
}

async function replicaCounts(nodes) {
  const alive = nodes.filter((n) => n.running)
  return Promise.all(objects.map(async (o) => (await Promise.all(alive.map((n) => holdsAll(n.url, o.blocks)))).filter(Boolean).length))
}

let killed = []
if (clusterUp) {
  await scenario('kill-2-of-5-restart', async (r) => {
    // Kill the two nodes holding the most replicas (the pusher, node 0, survives).
    const count = new Map()
    for (const o of objects) for (const d of o.nodes) count.set(d, (count.get(d) ?? 0) + 1)
    killed = five.slice(1).sort((x, y) => (count.get(y.did) ?? 0) - (count.get(x.did) ?? 0)).slice(0, 2)
    killed.forEach((n) => (n.heldBefore = objects.filter((o) => o.nodes.includes(n.did))))
    const t0 = Date.now()
    await Promise.all(killed.map((n) => n.kill()))
    r.checked = objects.length
    let counts
    await waitFor('every object back on 3 live nodes', async () => (counts = await replicaCounts(five)).every((c) => c >= K), {timeoutMs: 60_000, intervalMs: 250})
      .catch((e) => { r.lost = counts?.filter((c) => c === 0).length ?? 0; throw new Error(`${e.message.split(' (last')[0]}; counts ${counts}`) })
    r.recoveryMs = Date.now() - t0
    // Restart both on their old ports; everything stays at >= K and pulls intact.
    await Promise.all(killed.map((n) => n.start()))
    counts = await replicaCounts(five)
    if (!counts.every((c) => c >= K)) throw new Error(`after restart, replica counts ${counts}`)
    for (const o of objects) {
      const p = await pullOk(five[0], o.cid, o.sha)
      if (!p.ok) r.lost++
    }
    checkHomes(r, five)
    r.note = `replicas per object after restart: min ${Math.min(...counts)}`
  })

  await scenario('restart-db-intact', async (r) => {
    // The two restarted nodes (databases intact) rejoin and serve what they held.
    if (killed.length === 0) throw new Error('no restarted nodes (previous scenario failed early)')
    const t0 = Date.now()
    await waitFor('others to see restarted nodes alive', async () => {
      const pr = await five[0].polar(['peers', '--json'])
      if (pr.code !== 0) return false
      const rows = json(pr)
      return killed.every((k) => rows.find((p) => p.did === k.did)?.state === 'alive')
    }, {timeoutMs: 30_000, intervalMs: 250})
    r.recoveryMs = Date.now() - t0
    for (const k of killed) {
      for (const o of k.heldBefore) {
        r.checked++
        if (!(await holdsAll(k.url, o.blocks))) { r.lost++; r.note += `${k.url} lost ${o.cid}; `; continue }
        const p = await pullOk(k, o.cid, o.sha)
        if (!p.ok) r.lost++, r.note += `${k.url}: ${p.why}; `
      }
    }
    r.note += `${killed.length} nodes rejoined on their old URLs`
  })

  await scenario('bit-rot-heal', async (r) => {
    // Flip bytes in a leaf of a multi-block object on one holder; a pull through it heals.
    const o = objects.find((x) => x.blocks.length > 1) ?? objects[0]
    const holder = five.find((n) => n.running && n !== five[0] && verifyHome(n.home).blocks > 0 && o.nodes.includes(n.did)) ?? five.slice(1).find((n) => n.running)
    if (!(await holdsAll(holder.url, o.blocks))) throw new Error('chosen holder does not hold the object')
    const victim = o.blocks[1] ?? o.blocks[0] // a full 1 MiB leaf
    const pre = verifyHome(holder.home).bad
    if (pre.length) throw new Error(`holder already had ${pre.length} bad blocks before the flip`)
    const was = locate(holder.home, victim)
    flipBytes(holder.home, victim)
    if (!verifyHome(holder.home).bad.includes(victim)) throw new Error('flip did not corrupt the block')
    r.checked = 1
    const res = await fetch(`${holder.url}/v1/blocks/${victim}`, {signal: AbortSignal.timeout(5_000)})
    await res.arrayBuffer()
    r.note = `peer GET of rotten block: HTTP ${res.status}`
    const t0 = Date.now()
    const p = await pullOk(holder, o.cid, o.sha)
    r.recoveryMs = Date.now() - t0
    if (!p.ok) r.lost = 1, r.note += `; pull: ${p.why}`
    // The healed copy is written by the node; give it a moment, then every block must verify.
    await waitFor('the rotten block to be replaced', () => verifyHome(holder.home).bad.length === 0, {timeoutMs: 10_000, intervalMs: 250})
      .catch(() => { if (process.env.CHAOS_VERBOSE) console.error(holder.log.slice(-3000)); const bad = verifyHome(holder.home).bad; throw new Error(`${bad.length} bad block(s) on ${holder.url} after a pull through it (${bad.includes(victim) ? 'the rotten one' : 'not the rotten one: ' + bad.map((c) => `${c} at ${JSON.stringify(locate(holder.home, c))}`).join(',')}; rotten one was at ${JSON.stringify(was)}, healed copy at ${JSON.stringify(locate(holder.home, victim))})`) })
    checkHomes(r, five)
  })
}
await stopAll(five)

// (6) a partition: five nodes behind fault-injecting proxies (chaos/proxy.mjs),
// cut into sides {0,1,2} and {3,4}; pushes on each side meet --min-replicas
// where enough nodes are reachable; after the heal, repair restores K on both
// sides and every object pulls on every node.
for (const mode of QUICK ? ['refuse'] : ['refuse', 'drop']) {
  await scenario(mode === 'refuse' ? 'partition-heal' : 'partition-drop-heal', (r) => partition(r, mode))
}

async function peerStates(node) {
  const pr = await node.polar(['peers', '--json'])
  if (pr.code !== 0) throw new Error(`peers on ${node.url}: exit ${pr.code}`)
  return new Map(json(pr).map((p) => [p.did, p.state]))
}

async function partition(r, mode) {
  const nodes = [0, 1, 2, 3, 4].map(() => new Node(tempDir('polar-chaos-home-')))
  const net = new FaultNet({mode, pids: () => new Map(nodes.map((n, i) => [n.child?.pid, i]).filter(([pid]) => pid))})
  const objs = []
  const push = async (node, name, size, args, side) => {
    const o = makeFile(name, size)
    const pushStart = Date.now()
    const pr = await node.polar(['push', o.file, ...args, '--json'])
    o.ms = Date.now() - pushStart
    const text = pr.stdout.toString() + pr.stderr
    const cid = pr.code === 0 ? json(pr).cid : /\b(baf[a-z2-7]{20,})/.exec(text)?.[1]
    if (!cid) {
      // A hung or crashed push: show the pushing node's log (CI has no CHAOS_VERBOSE).
      console.error(`---- push ${name} on node ${nodes.indexOf(node)} (${node.url}): exit ${pr.code ?? pr.signal} after ${(o.ms / 1000).toFixed(1)} s; client said: ${text.trim().slice(-500)}`)
      for (const [i, n] of nodes.entries()) console.error(`---- node ${i} (${n.url}) log ends:\n${n.log.slice(-2500)}`)
      console.error('----')
      throw new Error(`push ${name} (${args.join(' ')}): exit ${pr.code ?? `${pr.signal} (killed after ${(o.ms / 1000).toFixed(0)} s)`}, no CID: ${text.trim().split('\n').pop()}`)
    }
    const obj = {...o, name, side, cid, code: pr.code, res: pr.code === 0 ? json(pr) : undefined, blocks: await blockList(node.url, cid)}
    objs.push(obj)
    return obj
  }
  const holders = (o) => Promise.all(nodes.map((n) => holdsAll(n.url, o.blocks))).then((h) => h.filter(Boolean).length)
  try {
    for (const [i, n] of nodes.entries()) {
      n.listenPort = await freePort()
      n.announce = (await net.add(i, n.listenPort)).url
    }
    await Promise.all(nodes.map((n) => n.start()))
    await mesh(nodes)
    const A = nodes.slice(0, 3)
    const B = nodes.slice(3)
    const didsA = new Set(A.map((n) => n.did))
    const didsB = new Set(B.map((n) => n.did))
    await push(nodes[0], 'part-before', MiB + 3, ['--replicas', '3'], 'both')
    if (net.stats.identified === 0) throw Object.assign(new Error(`skipped: the proxy could not tell the nodes' connections apart (${net.stats.unidentified} unidentified; needs Linux /proc/net/tcp and /proc/PID/fd)`), {skip: true})

    net.cut([[0, 1, 2], [3, 4]])
    const cutAt = Date.now()
    const problems = []
    // Side A has 3 nodes: --replicas 3 --min-replicas 3 is met on A alone.
    for (const [n, name, size] of [[A[0], 'part-a1', 2 * MiB + 5], [A[1], 'part-a2', 300 * 1024]]) {
      const o = await push(n, name, size, ['--replicas', '3', '--min-replicas', '3'], 'A')
      if (o.code !== 0) problems.push(`${name} on side A: exit ${o.code}`)
      else if (o.res.replicas !== 3 || !o.res.nodes.every((d) => didsA.has(d))) problems.push(`${name}: replicas ${o.res.replicas} on ${o.res.nodes.map((d) => (didsA.has(d) ? 'A' : 'B')).join('')}`)
    }
    // Side B has 2 nodes: --min-replicas 2 is met; --min-replicas 3 cannot be (exit 5, stored, placed later).
    const b1 = await push(B[0], 'part-b1', 3 * MiB - 17, ['--replicas', '3', '--min-replicas', '2'], 'B')
    if (b1.code !== 0) problems.push(`part-b1 on side B (min 2): exit ${b1.code}`)
    else if (b1.res.replicas !== 2 || !b1.res.nodes.every((d) => didsB.has(d))) problems.push(`part-b1: replicas ${b1.res.replicas}`)
    const b2 = await push(B[1], 'part-b2', MiB + 1, ['--replicas', '3', '--min-replicas', '3'], 'B')
    if (b2.code !== 5) problems.push(`part-b2 on side B (min 3 of 2 reachable): exit ${b2.code}, expected 5`)
    // Across the cut nothing is found (a pull of a side-A object on side B fails cleanly).
    const cross = await B[0].polar(['pull', objs[1].cid, '-o', join(work, 'part-cross')], {timeoutMs: 60_000})
    if (cross.code === 0) problems.push('a side-A object pulled on side B during the partition: the cut leaks')
    // Both sides stop counting on the other (as after any real outage of more than a few pings).
    await waitFor('each side to see the other as dead', async () => {
      const [sa, sb] = await Promise.all([peerStates(A[2]), peerStates(B[1])])
      return [...didsB].every((d) => sa.get(d) === 'dead') && [...didsA].every((d) => sb.get(d) === 'dead')
    }, {timeoutMs: 60_000, intervalMs: 250})
    const cutMs = Date.now() - cutAt
    if (problems.length) throw new Error(problems.join('; '))

    net.heal()
    const t0 = Date.now()
    // Right after the heal, a side-B node pulls a side-A object (its peers on A are still marked dead).
    let firstPull
    for (;;) {
      const pr = await B[1].polar(['pull', objs[1].cid, '-o', join(work, 'part-first')], {timeoutMs: 60_000})
      firstPull = {code: pr.code, ms: Date.now() - t0, tries: (firstPull?.tries ?? 0) + 1, codes: [...new Set([...(firstPull?.codes ?? []), pr.code])]}
      if (pr.code === 0 || Date.now() - t0 > 60_000) break
      await delay(250)
    }
    // Repair brings every object back to K = 3 full replicas.
    let counts
    await waitFor('every object on 3 nodes after the heal', async () => (counts = await Promise.all(objs.map(holders))).every((c) => c >= K), {timeoutMs: 90_000, intervalMs: 250})
      .catch((e) => { throw new Error(`${e.message.split(' (last')[0]}; counts ${counts}`) })
    const repairedMs = Date.now() - t0
    // Every object pulls intact on every node (one try each: the network has converged).
    r.checked = objs.length
    const failed = new Set()
    await Promise.all(nodes.map(async (n) => {
      for (const o of objs) {
        const p = await pullOk(n, o.cid, o.sha)
        if (!p.ok) failed.add(o.cid), (r.note += `${o.name} on node ${nodes.indexOf(n)}: ${p.why}; `)
      }
    }))
    r.recoveryMs = Date.now() - t0
    r.lost = failed.size
    checkHomes(r, nodes)
    r.note += `${mode}: cut ${(cutMs / 1000).toFixed(1)} s; pushes during the cut took ${objs.slice(1).map((o) => (o.ms / 1000).toFixed(1)).join('/')} s; sides pushed A=3/3 replicas, B=2 (min 2 ok, min 3 exit 5); first pull across after heal: exit ${firstPull.code} at ${firstPull.ms} ms (${firstPull.tries} tries, exits ${firstPull.codes.join('/')}); K=3 everywhere at ${repairedMs} ms; proxy: ${net.stats.connections} conns, ${net.stats.refused + net.stats.dropped} blocked`
  } finally {
    await stopAll(nodes)
    await net.close()
    for (const o of objs) removeDir(o.file)
  }
}

// (7) a stranger's erase (issue 20 point 1) while nodes die: the stranger pushes the
// owner's bytes under their own key and erases that record while one of the owner's
// replica holders and the node holding a pulled copy are SIGKILLed. After the restarts
// no node may have lost the owner's object or refuse it; the owner's own erase then
// still removes it everywhere.
await scenario('stranger-erase', async (r) => {
  const nodes = [0, 1, 2, 3].map(() => new Node(tempDir('polar-chaos-home-')))
  try {
    await Promise.all(nodes.map((n) => n.start()))
    await mesh(nodes)
    const [a] = nodes
    const obj = makeFile('stranger-x', (QUICK ? 6 : 24) * MiB + 123)
    const po = await a.polar(['push', obj.file, '--replicas', '2', '--min-replicas', '2', '--json'])
    if (po.code !== 0) throw new Error(`owner's push: exit ${po.code} ${po.stderr}`)
    const owner = json(po)
    const blocks = await blockList(a.url, owner.cid)
    const p = nodes.find((n) => n !== a && owner.nodes.includes(n.did)) // the owner's other replica
    const [q, s] = nodes.filter((n) => n !== a && n !== p) // q pulls a copy; s is the stranger's node
    r.checked = 1
    const pq = await pullOk(q, owner.cid, obj.sha)
    if (!pq.ok) throw new Error(`q's first pull: ${pq.why}`)
    // The stranger: the same bytes under s's key (a new record, same root), placed on 2 nodes.
    const ps = await s.polar(['push', obj.file, '--replicas', '2', '--json'])
    if (ps.code !== 0) throw new Error(`stranger's push: exit ${ps.code} ${ps.stderr}`)
    if (json(ps).cid !== owner.cid) throw new Error('same bytes gave another root')
    // The fault: p dies, the stranger erases their record, q dies while it arrives.
    await p.kill()
    const erasing = s.polar(['erase', owner.cid, '--json'])
    await delay(Math.floor(Math.random() * 200))
    await q.kill()
    const er = await erasing
    if (er.code !== 0) throw new Error(`stranger's erase: exit ${er.code} ${er.stderr}`)
    if (JSON.stringify(json(er).records) !== JSON.stringify([json(ps).record])) throw new Error(`the stranger's erase named ${json(er).records}`)
    const t0 = Date.now()
    await Promise.all([p.start(), q.start()])
    // Recovery: every node has the stranger's tombstone (anti-entropy), and still serves the owner's object.
    await waitFor('the stranger\'s erase to reach every node', async () => (await Promise.all(nodes.map(async (n) => {
      const res = await fetch(`${n.url}/v1/erasures?after=0`, {signal: AbortSignal.timeout(5_000)})
      return (await res.json()).erasures.length >= 1
    }))).every(Boolean), {timeoutMs: 60_000})
    const problems = []
    for (const n of [a, p]) {
      if (!(await holdsAll(n.url, blocks))) r.lost++, problems.push(`owner's replica ${n.url} lost blocks`)
      const recs = (await (await fetch(`${n.url}/v1/records?root=${owner.cid}`)).json()).records
      if (recs.length !== 1) problems.push(`${n.url} holds ${recs.length} record(s) of X, not the owner's one`)
    }
    if (!(await holdsAll(q.url, blocks))) problems.push(`q's pulled copy was emptied`)
    for (const n of nodes) {
      const pr = await pullOk(n, owner.cid, obj.sha)
      if (!pr.ok) r.lost++, problems.push(`${n === s ? 'the stranger\'s node' : n.url}: ${pr.why}`)
    }
    r.recoveryMs = Date.now() - t0
    checkHomes(r, nodes)
    if (problems.length) throw new Error(problems.join('; '))
    // The owner's erase still removes it from every node (the copies pulled just now too).
    const eo = await a.polar(['erase', owner.cid, '--json'])
    if (eo.code !== 0) throw new Error(`owner's erase: exit ${eo.code} ${eo.stderr}`)
    await waitFor('the owner\'s erase to remove X everywhere', async () => (await Promise.all(nodes.map((n) => hasBlocks(n.url, [owner.cid])))).every(([h]) => !h), {timeoutMs: 60_000})
    const exits = []
    for (const n of nodes) exits.push((await n.polar(['pull', owner.cid, '-o', join(work, 'stranger-gone')])).code)
    if (exits.some((c) => c !== 3)) throw new Error(`after the owner's erase, pulls exited ${exits.join('/')} (want 3 everywhere)`)
    checkHomes(r, nodes)
    r.note = `stranger's record placed on ${json(ps).nodes.length} node(s); killed p (owner's replica) and q (pulled copy) during the stranger's erase; after restart every node pulled X intact; owner's erase: pulls exit ${exits.join('/')}`
  } finally {
    await stopAll(nodes)
    removeDir(join(work, 'stranger-x'))
  }
})

// (5) full disk: a 16 MiB tmpfs as POLAR_HOME; a 24 MiB push must fail with a clear
// error, every indexed block must still verify, and a small push afterwards works.
// Once through a node on that home, once through the embedded store (no node).
for (const viaNode of [true, false]) {
  await scenario(viaNode ? 'full-disk-node' : 'full-disk-embedded', async (r) => {
    let dir
    try {
      dir = mountTmpfs('16m')
    } catch (e) {
      throw Object.assign(new Error(`skipped: ${e.message}`), {skip: true})
    }
    const n = new Node(join(dir, 'home'))
    try {
      const big = makeFile('full-big', 24 * MiB)
      const last = (res) => (res.stderr.trim() || res.stdout.toString().trim()).split('\n').pop().slice(0, 110)
      const problems = []
      if (viaNode) await n.start()
      const pr = await n.polar(['push', big.file, '--replicas', '1', '--json'])
      r.note = `big push exit ${pr.code}: ${last(pr)}`
      if (pr.code === 0) problems.push('push onto a full disk exited 0')
      else if (!/space|disk is full|ENOSPC/i.test(pr.stderr + pr.stdout)) problems.push('unclear error for a full disk')
      await delay(500)
      if (viaNode && !n.running) problems.push(`the node exited (${JSON.stringify(await n.exited)}) on the full disk`)
      checkHomes(r, [n])
      const t0 = Date.now()
      const small = makeFile('full-small', 100 * 1024)
      const sr = await n.polar(['push', small.file, '--replicas', '1', '--json'])
      r.checked = 1
      if (sr.code !== 0) problems.push(`small push afterwards: exit ${sr.code} ${last(sr)}`)
      else {
        const p = await pullOk(n, json(sr).cid, small.sha)
        if (!p.ok) r.lost = 1, problems.push(p.why)
        r.recoveryMs = Date.now() - t0
      }
      checkHomes(r, [n])
      if (problems.length) throw new Error(problems.join('; '))
    } finally {
      await n.stop()
      unmount(dir)
      removeDir(dir)
    }
  })
}

// (7) strangers and hostile writers (issue 20). A node that announces a
// loopback TCP "trap" asks two nodes to register it (`peers add`): the one set
// as public (dialPrivate: false) must refuse without opening a connection to
// the trap; the private one dials it and answers the same generic refusal
// whatever the trap did. Then a remote write's client is SIGKILLed past the
// 64 MiB a writer used to checkpoint at: the node must end up holding no block
// of it and give the pack bytes back, and a full push afterwards works.
function writeSettings(home, settings) {
  writeFileSync(join(home, 'settings.json'), JSON.stringify(settings))
}

await scenario('hostile-stranger', async (r) => {
  const pub = new Node(tempDir('polar-chaos-home-'))
  const priv = new Node(tempDir('polar-chaos-home-'))
  const stranger = new Node(tempDir('polar-chaos-home-'))
  let trapped = 0
  const trap = createServer((s) => { trapped++; s.destroy() })
  await new Promise((res) => trap.listen(0, '127.0.0.1', res))
  try {
    writeSettings(pub.home, {stampBits: 8, dialPrivate: false})
    writeSettings(priv.home, {stampBits: 8})
    writeSettings(stranger.home, {stampBits: 8})
    stranger.announce = `http://127.0.0.1:${trap.address().port}`
    stranger.listenPort = await freePort()
    await Promise.all([pub, priv, stranger].map((n) => n.start()))
    const problems = []
    const toPub = await stranger.polar(['peers', 'add', pub.url, '--json'])
    const pubErr = toPub.code === 0 ? null : json(toPub).error
    if (toPub.code !== 6 || pubErr?.code !== 'NOT_ALLOWED') problems.push(`public node: exit ${toPub.code} ${pubErr?.code}`)
    if (trapped !== 0) problems.push(`the public node opened ${trapped} connection(s) to the loopback trap`)
    const toPriv = await stranger.polar(['peers', 'add', priv.url, '--json'])
    const privErr = toPriv.code === 0 ? null : json(toPriv).error
    if (toPriv.code !== 2 || privErr?.code !== 'UNREACHABLE' || !/could not confirm that/.test(privErr?.message ?? '')) problems.push(`private node: exit ${toPriv.code} ${JSON.stringify(privErr)}`)
    if (trapped === 0) problems.push('the private node did not dial its loopback neighbour')
    r.note = `public node: ${pubErr?.code}, trap untouched; private node: ${privErr?.code} after ${trapped} dial(s) of the trap`
    for (const n of [pub, priv]) if (!n.running) problems.push(`${n.url} exited`)
    if (problems.length) throw new Error(problems.join('; '))
  } finally {
    await stopAll([pub, priv, stranger])
    await new Promise((res) => trap.close(res))
  }
})

await scenario('killed-remote-upload', async (r) => {
  const n = new Node(tempDir('polar-chaos-home-'))
  const user = tempDir('polar-chaos-user-')
  const size = Math.max(BIG, 96 * MiB)
  const obj = makeFile('remote-big', size)
  try {
    writeSettings(n.home, {writeStampBits: 8})
    await n.start()
    const before = {blocks: blockCount(n.home), packs: packBytes(n.home)}
    let child
    const push = n.polar(['push', obj.file, '--node', n.url, '--max-stamp-bits', '8', '--json'], {home: user, onSpawn: (c) => { child = c }})
    // Kill the client once the upload is past the 64 MiB a writer used to checkpoint (and index) at.
    await waitFor('the upload to pass 70 MiB', () => packBytes(n.home) > before.packs + 70 * MiB, {timeoutMs: 120_000, intervalMs: 5})
    child.kill('SIGKILL')
    await push
    const t0 = Date.now()
    await waitFor('the node to give the upload back', () => blockCount(n.home) === before.blocks && packBytes(n.home) === before.packs, {timeoutMs: 30_000})
    r.recoveryMs = Date.now() - t0
    const left = blockCount(n.home) - before.blocks
    if (!n.running) throw new Error('the node exited')
    checkHomes(r, [n])
    const pr = await n.polar(['push', obj.file, '--node', n.url, '--max-stamp-bits', '8', '--json'], {home: user})
    if (pr.code !== 0) throw new Error(`push afterwards: exit ${pr.code} ${pr.stderr.trim().split('\n').pop()}`)
    r.checked = 1
    const p = await pullOk(n, json(pr).cid, obj.sha)
    if (!p.ok) r.lost = 1
    r.note = `client killed past 70 MiB of ${size / MiB} MiB; ${left} block(s) and no pack bytes left; the push again: ${p.ok ? 'pulled intact' : p.why}`
  } finally {
    await stopAll([n])
    removeDir(user)
    removeDir(obj.file)
  }
})

// (8) hostile clients (issue 20 points 7, 8): a flood of slow and idle connections
// and slow bodies, then pipelined batch answers nobody reads; a peer pulls meanwhile.
await scenario('conn-flood', (r) => connFlood(r, {work, quick: QUICK}))
await scenario('unread-answers', (r) => unreadAnswers(r, {work}))

const total = results.reduce((a, r) => ({checked: a.checked + (r.checked ?? 0), lost: a.lost + (r.lost ?? 0)}), {checked: 0, lost: 0})
const failed = results.filter((r) => r.status === 'FAIL').length
const skipped = results.filter((r) => r.status === 'SKIP').length
console.log(`TOTAL ${results.length} scenarios: ${results.length - failed - skipped} passed, ${failed} failed, ${skipped} skipped; objects checked=${total.checked} lost=${total.lost}; ${((Date.now() - started) / 1000).toFixed(1)} s${QUICK ? ' (quick)' : ''}`)
cleanupAll()
process.exit(failed || total.lost ? 1 : 0)
