// What polar does when a person, not a script, is on the other end (issue 19):
// `polar push -` with a terminal on stdin refused with a hint (it waited in
// silence, and Ctrl-D stored an empty object); `polar pull` of binary data
// to a terminal refused unless -o, a pipe or --force, as curl does. `script`
// gives the CLI a real terminal (as in peers-watch.test.ts).
import assert from 'node:assert/strict'
import {execFileSync, spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {tmpHome} from '../helpers.js'
import {CLI, Cluster, runPolar, type NodeProcess} from '../node/cluster.js'

const hasScript = (() => {
  try {
    execFileSync('sh', ['-c', 'command -v script'], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
})()
const NO_SCRIPT = hasScript ? false : 'skipped: no `script` command to give the CLI a terminal'

interface TerminalRun {
  /** The CLI's exit code (script -e passes it on); null when it had to be killed. */
  code: number | null
  /** Everything the terminal showed (stdout and stderr together, \n as \r\n). */
  screen: Buffer
}

/** Runs the CLI with a terminal on stdin, stdout and stderr; stdin stays open (nobody types). */
function inTerminal(args: string[], home: string, timeoutMs = 20_000): Promise<TerminalRun> {
  const quoted = [process.execPath, CLI, ...args].map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' ')
  const child = spawn('script', ['-qefc', `stty cols 200 rows 50 2>/dev/null; exec ${quoted}`, '/dev/null'], {
    env: {...process.env, POLAR_HOME: home, POLAR_NODE: '', NO_COLOR: '1', TERM: 'xterm'},
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  const out: Buffer[] = []
  child.stdout.on('data', (d) => out.push(d))
  child.stdin.on('error', () => {})
  return new Promise((resolve) => {
    let killed = false
    const timer = setTimeout(() => { killed = true; child.kill('SIGKILL') }, timeoutMs)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({code: killed ? null : code, screen: Buffer.concat(out)})
    })
  })
}

const BINARY = Buffer.concat([Buffer.from('PK\x03\x04\x00\x00'), randomBytes(200_000)]) // a zip-like header: NUL bytes up front
const TEXT = 'hello terminal\nsecond line\n'

describe('a person at a terminal', {timeout: 180_000}, () => {
  const {home, cleanup} = tmpHome('polar-tty-')
  const cluster = new Cluster()
  let binCid = ''
  let textCid = ''
  let node: NodeProcess
  before(async () => {
    const b = await runPolar(['push', '-', '-q'], {home, input: BINARY})
    assert.equal(b.code, 0, b.stderr)
    binCid = b.stdout.toString().trim()
    const t = await runPolar(['push', '-', '-q'], {home, input: TEXT})
    assert.equal(t.code, 0, t.stderr)
    textCid = t.stdout.toString().trim()
  })
  after(async () => {
    await cluster.stop()
    cleanup()
  })

  it('`push -` with a terminal on stdin is refused at once with a hint, and nothing is stored', {skip: NO_SCRIPT}, async () => {
    const r = await inTerminal(['push', '-', '--name', 'typed'], home)
    assert.notEqual(r.code, null, 'push - waited on the terminal instead of refusing')
    assert.equal(r.code, 2, r.screen.toString())
    assert.match(r.screen.toString(), /standard input.*terminal/)
    assert.match(r.screen.toString(), /polar push - < /)
    const j = await inTerminal(['push', '-', '--json'], home)
    assert.equal(j.code, 2, j.screen.toString())
    assert.match(j.screen.toString(), /"code":"USAGE"/)
    const s = await runPolar(['search', 'typed', '--json'], {home})
    assert.deepEqual(JSON.parse(s.stdout.toString()), [], 'no object was stored')
  })

  it('`push -` from a pipe still works (the refusal is for terminals only)', async () => {
    const r = await runPolar(['push', '-', '-q'], {home, input: TEXT})
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout.toString().trim(), textCid)
  })

  const pullChecks = (label: string, homeOf: () => string) => {
    it(`${label}: binary data to a terminal is refused (exit 2, nothing dumped); --force prints it`, {skip: NO_SCRIPT}, async () => {
      const r = await inTerminal(['pull', binCid], homeOf())
      assert.equal(r.code, 2, r.screen.subarray(0, 500).toString())
      const screen = r.screen.toString('latin1')
      assert.ok(!screen.includes('PK\x03\x04'), 'none of the object reached the terminal')
      assert.ok(r.screen.length < 2000, `only the message: ${r.screen.length} bytes shown`)
      assert.match(screen, /binary/)
      assert.match(screen, /--force/)
      assert.match(screen, /-o FILE/)
      const f = await inTerminal(['pull', binCid, '--force'], homeOf())
      assert.equal(f.code, 0)
      assert.ok(f.screen.length >= BINARY.length, `--force printed it all: ${f.screen.length} bytes shown`)
    })

    it(`${label}: text to a terminal, binary to -o or a pipe, are not refused`, {skip: NO_SCRIPT}, async () => {
      const t = await inTerminal(['pull', textCid], homeOf())
      assert.equal(t.code, 0, t.screen.toString())
      assert.match(t.screen.toString(), /hello terminal\r?\nsecond line/)
      const dir = tmpHome('polar-tty-out-')
      try {
        const o = await inTerminal(['pull', binCid, '-o', join(dir.home, 'f.zip')], homeOf())
        assert.equal(o.code, 0, o.screen.toString())
        assert.ok(readFileSync(join(dir.home, 'f.zip')).equals(BINARY))
      } finally {
        dir.cleanup()
      }
      const piped = await runPolar(['pull', binCid], {home: homeOf()})
      assert.equal(piped.code, 0, piped.stderr)
      assert.ok(piped.stdout.equals(BINARY))
    })
  }

  describe('embedded store', () => pullChecks('embedded', () => home))

  describe('through a running node', () => {
    before(async () => {
      node = await cluster.start()
      for (const input of [BINARY, TEXT]) {
        const r = await node.polar(['push', '-', '-q'], {input})
        assert.equal(r.code, 0, r.stderr)
      }
    })
    pullChecks('node', () => node.home)
  })
})
