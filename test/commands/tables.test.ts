// Reading output (issue 19 point 8): `peers` and `search` print a header row
// and the same columns on a terminal (aligned) and off one (tab-separated);
// `trust score` says a sentence; `peers ping` takes a URL; `peers --watch`
// fits an 80-column terminal.
import assert from 'node:assert/strict'
import {execFileSync, spawn} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {watchLayout} from '../../src/lib/ui/peers-watch.js'
import {json, runPolar, tmpHome} from '../helpers.js'
import {CLI, Cluster, waitFor, type NodeProcess} from '../node/cluster.js'

const hasScript = (() => {
  try {
    execFileSync('sh', ['-c', 'command -v script'], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
})()

/** Runs the built CLI on a pseudo-terminal of `cols` columns (script(1)) and returns what it drew, escapes removed. */
function onTerminal(args: string[], home: string, cols: number, until?: (out: string) => boolean): Promise<string> {
  const cmd = `stty cols ${cols} rows 30 2>/dev/null; exec ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} ${args.map((a) => JSON.stringify(a)).join(' ')}`
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'CI' && k !== 'CONTINUOUS_INTEGRATION' && !k.startsWith('CI_')))
  const child = spawn('script', ['-qfc', cmd, '/dev/null'], {env: {...env, POLAR_HOME: home, POLAR_NODE: '', TERM: 'xterm', NO_COLOR: '1'}, stdio: ['pipe', 'pipe', 'pipe']})
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  const plain = () => out.replace(/\x1b\[[0-9;?]*[a-zA-Z]/g, '').replace(/\r/g, '')
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`no output on the terminal: ${plain()}`))
    }, 30_000)
    if (until) {
      waitFor('the live view', () => until(plain()), {timeoutMs: 25_000}).then(() => child.stdin.write('q'), () => {})
    }
    child.on('close', () => {
      clearTimeout(timer)
      resolve(plain())
    })
  })
}

/** Column start offsets of an aligned header: each name starts after two or more spaces. */
function starts(header: string): number[] {
  return [...header.matchAll(/(?:^|\s{2,})(\S)/g)].map((m) => m.index! + m[0].length - 1)
}

describe('tables, sentences and ping by URL', {timeout: 120_000}, () => {
  const cluster = new Cluster()
  let a: NodeProcess
  let b: NodeProcess
  before(async () => {
    ;[a, b] = await cluster.startMany(2)
    await Cluster.join(a, b)
  })
  after(() => cluster.stop())

  it('peers off a terminal: a header row, then tab-separated rows of the same 6 columns', async () => {
    const r = await a.polar(['peers'])
    assert.equal(r.code, 0, r.stderr)
    const lines = r.stdout.toString().trimEnd().split('\n')
    assert.equal(lines[0], 'DID\tURL\tSTATE\tRTT\tLAST SEEN\tSERVICES')
    assert.equal(lines.length, 2)
    const cells = lines[1].split('\t')
    assert.equal(cells.length, 6)
    assert.equal(cells[0], b.did)
    assert.equal(cells[1], b.url)
  })

  it('peers on a terminal: the header and every row line up', {skip: hasScript ? false : 'no `script` command'}, async () => {
    const out = await onTerminal(['peers'], a.home, 200)
    const lines = out.split('\n').filter((l) => l.trim())
    const h = lines.findIndex((l) => l.startsWith('DID '))
    assert.ok(h >= 0, out)
    const row = lines[h + 1]
    assert.ok(row.startsWith(b.did), out)
    const cols = starts(lines[h])
    assert.equal(cols.length, 6)
    // The URL and the state start where their headers do.
    assert.equal(row.indexOf(b.url), cols[1], out)
    assert.equal(lines[h].indexOf('URL'), cols[1])
    assert.match(row.slice(cols[2]), /^(alive|suspect|dead)\s/)
  })

  it('peers ping takes the URL the table lists; an unknown URL is exit 3, a bad one exit 2', async () => {
    const r = await a.polar(['peers', 'ping', b.url, '--json'])
    assert.equal(r.code, 0, r.stderr + r.stdout)
    const j = json(r)
    assert.equal(j.did, b.did)
    assert.equal(j.url, b.url)
    assert.equal(typeof j.rttMs, 'number')
    const unknown = await a.polar(['peers', 'ping', 'http://127.0.0.1:1', '--json'])
    assert.equal(unknown.code, 3, unknown.stdout.toString())
    assert.equal(json(unknown).error.code, 'NOT_FOUND')
    const bad = await a.polar(['peers', 'ping', 'http://', '--json'])
    assert.equal(bad.code, 2, bad.stdout.toString())
  })

  it('peers --watch on 80 columns: no line wider than the terminal, no header drawn twice', {skip: hasScript ? false : 'no `script` command'}, async () => {
    let frames = 0
    const out = await onTerminal(['peers', '--watch'], a.home, 80, (o) => {
      frames = (o.match(/updated \d/g) ?? []).length
      return frames >= 3 && o.includes(b.did.slice(0, 14))
    })
    assert.ok(out.includes('STATE'), out)
    for (const line of out.split('\n')) assert.ok([...line].length <= 80, `wider than 80: ${JSON.stringify(line)}`)
    assert.ok(!out.includes('SERVICES'), 'services elided on 80 columns')
  })
})

describe('search table and trust score sentence (embedded store)', () => {
  const {home, cleanup} = tmpHome()
  const other = tmpHome()
  after(() => {
    cleanup()
    other.cleanup()
  })

  it('search off a terminal: header row, tab-separated, the whole owner did', async () => {
    const file = join(home, 'annual report.txt')
    writeFileSync(file, 'x'.repeat(5000))
    const pushed = json(await runPolar(['push', file, '--tag', 'y2026', '--json'], {home}))
    const r = await runPolar(['search', 'annual'], {home})
    assert.equal(r.code, 0, r.stderr)
    const lines = r.stdout.toString().trimEnd().split('\n')
    assert.equal(lines[0], 'SCORE\tCID\tSIZE\tNAME\tTAGS\tOWNER')
    assert.deepEqual(lines[1].split('\t').slice(1), [pushed.cid, '4.9 KiB', 'annual report.txt', 'y2026', pushed.owner])
  })

  it('trust score prints a sentence with the score and its paths', async () => {
    const did = json(await runPolar(['keygen', '--json'], {home: other.home})).did
    assert.equal((await runPolar(['trust', 'add', did, '--weight', '1'], {home})).code, 0)
    const r = await runPolar(['trust', 'score', did], {home})
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout.toString(), `You trust ${did} 1 (your own trust is 1), through one path: it is direct.\n`)
    const stranger = 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK'
    assert.match((await runPolar(['trust', 'score', stranger], {home})).stdout.toString(), /^You do not trust did:key:z6Mkha\S+: no path of at most 3 hops/)
  })
})

describe('peers --watch layout', () => {
  it('fits the width, leaving out services, then URL, then last seen', () => {
    const sum = (cols: number) => watchLayout(cols).reduce((n, c) => n + c.width, 0)
    for (const cols of [40, 60, 80, 100, 140, 200]) assert.ok(sum(cols) <= Math.max(cols - 1, 42), `${cols}: ${sum(cols)}`)
    assert.deepEqual(watchLayout(80).map((c) => c.column), ['state', 'rtt', 'seen', 'did', 'url'])
    assert.deepEqual(watchLayout(60).map((c) => c.column), ['state', 'rtt', 'seen', 'did'])
    assert.deepEqual(watchLayout(140).map((c) => c.column), ['state', 'rtt', 'seen', 'did', 'url', 'services'])
  })
})
