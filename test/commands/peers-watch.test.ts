// `polar peers --watch` (issue 4): off a terminal a plain listing; on one, a
// live ink table that shows a peer joining and quits on `q`. ink and react
// load only for --watch on a terminal: `peers --json` never resolves them.
import assert from 'node:assert/strict'
import {execFileSync, spawn} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {mergeRows} from '../../src/lib/ui/peers-watch.js'
import {json} from '../helpers.js'
import {CLI, Cluster, runPolar, waitFor, type NodeProcess} from '../node/cluster.js'

/** A resolve hook that writes every module URL the CLI process loads to $POLAR_TRACE_FILE. */
const HOOK = `import {register} from 'node:module'
register('data:text/javascript,' + encodeURIComponent(\`
import {appendFileSync} from 'node:fs'
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context)
  appendFileSync(process.env.POLAR_TRACE_FILE, r.url + '\\\\n')
  return r
}\`))
`

const hasScript = (() => {
  try {
    execFileSync('sh', ['-c', 'command -v script'], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
})()

describe('peers --watch', {timeout: 90_000}, () => {
  const cluster = new Cluster()
  let a: NodeProcess
  let b: NodeProcess
  let c: NodeProcess
  const dir = mkdtempSync(join(tmpdir(), 'polar-watch-'))
  before(async () => {
    ;[a, b, c] = await cluster.startMany(3)
    await Cluster.join(a, b)
  })
  after(async () => {
    await cluster.stop()
    rmSync(dir, {recursive: true, force: true})
  })

  it('off a terminal prints the plain listing and exits', async () => {
    const r = await a.polar(['peers', '--watch'])
    assert.equal(r.code, 0, r.stderr)
    const lines = r.stdout.toString().trim().split('\n')
    assert.equal(lines.length, 2)
    assert.ok(lines[0].startsWith('DID\t'))
    assert.ok(lines[1].startsWith(b.did + '\t'))
    const j = await a.polar(['peers', '--watch', '--json'])
    assert.equal(json(j)[0].did, b.did)
  })

  it('peers --json and peers --watch off a terminal do not load ink or react', async () => {
    const hook = join(dir, 'trace-hook.mjs')
    writeFileSync(hook, HOOK)
    for (const args of [['peers', '--json'], ['peers', '--watch']]) {
      const trace = join(dir, `trace-${args.join('')}.txt`)
      writeFileSync(trace, '')
      const r = await runPolar(args, {home: a.home, env: {POLAR_TRACE_FILE: trace, NODE_OPTIONS: `--import ${hook}`}})
      assert.equal(r.code, 0, r.stderr)
      const loaded = readFileSync(trace, 'utf8').split('\n').filter(Boolean)
      assert.ok(loaded.some((u) => u.includes('/commands/peers/index.js')), 'the trace saw the command load')
      assert.deepEqual(loaded.filter((u) => /\/node_modules\/(ink|react)\/|peers-watch/.test(u)), [], `${args.join(' ')} loads no ink/react`)
    }
  })

  it('on a terminal shows a live table that updates as a peer joins, and q quits', {skip: hasScript ? false : 'skipped: no `script` command to give the CLI a terminal'}, async () => {
    const cmd = `stty cols 140 rows 40 2>/dev/null; exec ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} peers --watch`
    // ink draws only the last frame when it thinks it runs in CI (CI, CONTINUOUS_INTEGRATION or CI_* set), as CI runners do.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'CI' && k !== 'CONTINUOUS_INTEGRATION' && !k.startsWith('CI_')))
    const child = spawn('script', ['-qfc', cmd, '/dev/null'], {env: {...env, POLAR_HOME: a.home, POLAR_NODE: '', TERM: 'xterm'}, stdio: ['pipe', 'pipe', 'pipe']})
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
    const plain = () => out.replace(/\x1b\[[0-9;?]*[a-zA-Z]/g, '')
    const short = (did: string) => did.slice(-6)
    try {
      await waitFor('the table with the first peer', () => plain().includes('STATE') && plain().includes(short(b.did)))
      await Cluster.join(a, c) // a peer comes
      await waitFor('the new peer in the table', () => plain().includes(short(c.did)), {timeoutMs: 20_000})
      child.stdin.write('q')
      assert.equal(await exited, 0)
      assert.match(plain(), /2 peer\(s\)/)
    } finally {
      child.kill('SIGKILL')
    }
  })
})

describe('peers --watch row merging', () => {
  const row = (did: string, state = 'alive') => ({did, url: 'http://x', services: 'polar/1', lastSeen: 1, rttMs: 1, state})
  it('marks new peers, keeps gone ones for a moment, then drops them', () => {
    let shown = mergeRows([], [row('a')], 1000, true)
    assert.equal(shown[0].firstSeenAt, 0) // there from the start: not marked new
    shown = mergeRows(shown, [row('a'), row('b')], 2000, false)
    assert.equal(shown.find((r) => r.did === 'b')!.firstSeenAt, 2000)
    shown = mergeRows(shown, [row('b', 'suspect')], 3000, false)
    assert.equal(shown.find((r) => r.did === 'a')!.goneAt, 3000)
    assert.equal(shown.find((r) => r.did === 'b')!.state, 'suspect')
    shown = mergeRows(shown, [row('b')], 9000, false)
    assert.deepEqual(shown.map((r) => r.did), ['b'])
  })
})
