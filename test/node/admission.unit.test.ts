// Unit tests of discovery admission (node/admission.ts) with a fake peer
// table and resolver: no node, no socket. Who may enter the table, and why not.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {Admission, DIAL_BURST, DialBudgetError, type AdmissionComponents} from '../../src/lib/node/admission.js'
import {DEFAULT_SETTINGS} from '../../src/lib/node/node-settings.js'
import type {Peer} from '../../src/lib/node/peer-table.js'
import {memoryLog, peer} from './fakes.js'

/** An Admission over `rows`, resolving each URL's host as `hosts` says (a literal IP resolves to itself). */
function admission(rows: Peer[], settings: Partial<AdmissionComponents['settings']> = {}, bans: Record<string, number> = {}) {
  const {log, lines} = memoryLog()
  const hosts: Record<string, string> = {}
  const c: AdmissionComponents = {
    settings: {...DEFAULT_SETTINGS, dialPrivate: true, ...settings},
    peers: {
      get: (did) => rows.find((p) => p.did === did),
      list: () => rows,
      count: () => rows.length,
      bannedUntil: (did, address) => bans[did] ?? (address !== null ? bans[address] : undefined) ?? null,
    },
    url: 'http://93.184.1.1:7477',
    log,
    resolve: async (url) => {
      const host = new URL(url).hostname
      if (hosts[host]) return {address: hosts[host]}
      if (/^[\d.]+$/.test(host)) return {address: host}
      throw new Error('ENOTFOUND')
    },
  }
  return {a: new Admission(c), lines, hosts}
}

describe('admission (unit, fakes)', () => {
  it('admits a public address and returns the address it resolved (the one a dial-back will dial)', async () => {
    const {a, hosts} = admission([])
    hosts['peer.example'] = '93.184.216.7'
    assert.deepEqual(await a.admissionProblem('did:key:znew', 'http://peer.example:7477'), {address: '93.184.216.7'})
  })

  it('a host that does not resolve is UNREACHABLE (400)', async () => {
    const {a} = admission([])
    const r = await a.admissionProblem('did:key:znew', 'http://nowhere.example:1')
    assert.equal('code' in r && r.code, 'UNREACHABLE')
    assert.equal('status' in r && r.status, 400)
  })

  it('a banned did, and a did at a banned address, are refused BANNED', async () => {
    const {a} = admission([], {}, {'did:key:zbad': Date.now() + 60_000, '93.184.216.9': Date.now() + 60_000})
    const byDid = await a.admissionProblem('did:key:zbad', 'http://93.184.216.1:1')
    assert.equal('code' in byDid && byDid.code, 'BANNED')
    const byAddress = await a.admissionProblem('did:key:zother', 'http://93.184.216.9:1')
    assert.equal('code' in byAddress && byAddress.code, 'BANNED')
  })

  it('with dialPrivate off, private and loopback addresses are NOT_ALLOWED; with it on they pass', async () => {
    const off = admission([], {dialPrivate: false}).a
    for (const url of ['http://10.1.2.3:1', 'http://127.0.0.1:1', 'http://192.168.0.2:1']) {
      const r = await off.admissionProblem('did:key:znew', url)
      assert.equal('code' in r && r.code, 'NOT_ALLOWED', url)
    }
    const on = admission([], {dialPrivate: true}).a
    assert.deepEqual(await on.admissionProblem('did:key:znew', 'http://10.1.2.3:1'), {address: '10.1.2.3'})
  })

  it('dialPrivate unset: private dials only when this node announces a private or loopback host itself', async () => {
    const {a, lines} = admission([], {dialPrivate: null})
    const r = await a.admissionProblem('did:key:znew', 'http://10.1.2.3:1')
    assert.equal('code' in r && r.code, 'NOT_ALLOWED')
    assert.match(lines.join('\n'), /public addresses only \(this node announces http:\/\/93\.184\.1\.1:7477\)/)
  })

  it('a full table refuses a newcomer (PEER_LIMIT), counting registrations in flight, but not a peer it already holds', async () => {
    const rows = [peer('did:key:z1', {address: '93.184.216.1'})]
    const {a} = admission(rows, {maxPeers: 2})
    assert.equal(await a.reserve('did:key:z2', 'http://93.184.216.2:1', 'test'), '93.184.216.2')
    const r = await a.admissionProblem('did:key:z3', 'http://93.184.216.3:1')
    assert.equal('code' in r && r.code, 'PEER_LIMIT')
    assert.match('problem' in r ? r.problem : '', /full \(2 peers\)/)
    assert.deepEqual(await a.admissionProblem('did:key:z1', 'http://93.184.216.1:1'), {address: '93.184.216.1'})
  })

  it('eclipse resistance: at most peersPer24 from one /24 and peersPer16 from one /16, pending included; loopback exempt', async () => {
    const rows = [peer('did:key:z1', {address: '93.184.216.1'}), peer('did:key:z2', {address: '93.184.216.2'})]
    const {a} = admission(rows, {peersPer24: 3, peersPer16: 4})
    assert.equal(await a.reserve('did:key:z3', 'http://93.184.216.3:1', 'test'), '93.184.216.3')
    const full24 = await a.admissionProblem('did:key:z4', 'http://93.184.216.4:1')
    assert.equal('code' in full24 && full24.code, 'PEER_LIMIT')
    assert.match('problem' in full24 ? full24.problem : '', /per \/24/)
    assert.deepEqual(await a.admissionProblem('did:key:z5', 'http://93.184.217.1:1'), {address: '93.184.217.1'}, 'another /24 of the same /16')
    assert.equal(await a.reserve('did:key:z5', 'http://93.184.217.1:1', 'test'), '93.184.217.1')
    const full16 = await a.admissionProblem('did:key:z6', 'http://93.184.218.1:1')
    assert.match('problem' in full16 ? full16.problem : '', /per \/16/)
    // A reservation already held is not taken twice; its release frees the place.
    assert.equal(await a.reserve('did:key:z5', 'http://93.184.217.1:1', 'test'), null)
    a.pending.delete('did:key:z3')
    assert.deepEqual(await a.admissionProblem('did:key:z4', 'http://93.184.216.4:1'), {address: '93.184.216.4'})
    // Many nodes on one machine are normal: loopback is not capped unless limitLoopback.
    const lo = admission([peer('did:key:l1', {address: '127.0.0.1'}), peer('did:key:l2', {address: '127.0.0.1'})], {peersPer24: 1}).a
    assert.deepEqual(await lo.admissionProblem('did:key:l3', 'http://127.0.0.1:9'), {address: '127.0.0.1'})
    const capped = admission([peer('did:key:l1', {address: '127.0.0.1'})], {peersPer24: 1, limitLoopback: true}).a
    const r = await capped.admissionProblem('did:key:l3', 'http://127.0.0.1:9')
    assert.equal('code' in r && r.code, 'PEER_LIMIT')
  })

  it('each source address gets DIAL_BURST dial-backs, then DialBudgetError with a Retry-After; loopback is exempt', () => {
    const {a} = admission([])
    for (let i = 0; i < DIAL_BURST; i++) a.takeDial('93.184.216.50')
    assert.throws(() => a.takeDial('93.184.216.50'), (err: unknown) => err instanceof DialBudgetError && err.retryAfterS >= 1 && err.status === 429)
    a.takeDial('93.184.216.51') // another address has its own budget
    for (let i = 0; i < DIAL_BURST * 3; i++) a.takeDial('127.0.0.1')
  })
})
