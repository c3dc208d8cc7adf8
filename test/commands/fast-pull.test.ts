// `polar pull` through a running node takes a path that does not load oclif
// (src/lib/cli/fast-pull.ts). It must behave exactly like the full command:
// the same stdout, stderr and exit code for every form it takes (run on a copy
// of the build whose oclif entry throws, so a silent fall-back would show),
// and it must leave every other form to the full CLI.
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {after, before, describe, it} from 'node:test'
import Pull from '../../src/commands/pull.js'
import {fastPull} from '../../src/lib/cli/fast-pull.js'
import {CLI, Cluster, type NodeProcess} from '../node/cluster.js'
import type {RunResult} from '../helpers.js'

/** `node ...nodeArgs` on `home`, as a script would run polar. */
function run(nodeArgs: string[], home: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, nodeArgs, {env: {...process.env, POLAR_HOME: home, NO_COLOR: '1', POLAR_NODE: ''}, stdio: ['ignore', 'pipe', 'pipe']})
    const out: Buffer[] = []
    let err = ''
    child.stdout.on('data', (d) => out.push(d))
    child.stderr.on('data', (d) => (err += d))
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({code, signal, stdout: Buffer.concat(out), stderr: err}))
  })
}

/** `node ...nodeArgs` on `home` with stdout closed after its first bytes (a reader like `head -c 1`): the exit code. */
function runClosingStdout(nodeArgs: string[], home: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, nodeArgs, {env: {...process.env, POLAR_HOME: home, NO_COLOR: '1', POLAR_NODE: ''}, stdio: ['ignore', 'pipe', 'ignore']})
    child.stdout.once('data', () => child.stdout.destroy())
    child.on('error', reject)
    child.on('close', (code) => resolve(code))
  })
}

/** The same arguments through oclif's `execute`, never the fast path. */
function fullCli(args: string[], home: string): Promise<RunResult> {
  const index = pathToFileURL(join(dirname(CLI), '..', 'dist', 'index.js')).href
  const code = `const {execute} = await import(${JSON.stringify(index)}); await execute({dir: ${JSON.stringify(pathToFileURL(CLI).href)}, args: process.argv.slice(1)})`
  return run(['--input-type=module', '-e', code, ...args], home)
}

/** A copy of the build whose oclif entry (dist/index.js) throws: bin/run.js there works only through the fast path. */
function buildWithoutOclif(): {bin: string; cleanup: () => void} {
  const dir = mkdtempSync(join(tmpdir(), 'polar-no-oclif-'))
  cpSync(join(dirname(CLI), '..'), dir, {recursive: true})
  writeFileSync(join(dir, 'dist', 'index.js'), "throw new Error('the full CLI (oclif) was loaded')\n")
  return {bin: join(dir, 'bin', 'run.js'), cleanup: () => rmSync(dir, {recursive: true, force: true})}
}

/** Temp-file names carry a random part: the rest must match. */
const plain = (s: string) => s.replace(/\.[\w-]+\.\d+\.[0-9a-f]+\.tmp/g, '.TMP')

describe('polar pull through a node without oclif', {timeout: 120_000}, () => {
  const cluster = new Cluster()
  let node: NodeProcess
  let small: string
  let big: string
  const bigData = randomBytes(3 * 1024 * 1024 + 5)
  let dir: string

  before(async () => {
    node = await cluster.start()
    dir = cluster.home('polar-fast-pull-')
    writeFileSync(join(dir, 'small'), 'hello fast path\n')
    writeFileSync(join(dir, 'big'), bigData)
    small = (await node.polar(['push', join(dir, 'small'), '-q'])).stdout.toString().trim()
    big = (await node.polar(['push', join(dir, 'big'), '-q', '--replicas', '1'])).stdout.toString().trim()
    assert.match(small, /^baf/)
    assert.match(big, /^baf/)
  })
  after(() => cluster.stop())

  it('gives the same stdout, stderr and exit code as the full command, without loading oclif', async () => {
    const noOclif = buildWithoutOclif()
    after(noOclif.cleanup)
    const missing = 'bafkreie2pn5tuxkqpanu6r3izv6oeiywr5vujg3yvvvmlfg3k6emhoaf2e'
    const forms = [
      [small],
      [big],
      [big, '-o', join(dir, 'out-a')],
      [big, '--output', join(dir, 'out-b'), '--json'],
      [`--output=${join(dir, 'out-c')}`, small, '--json'],
      [small, '-o', join(dir, 'out-d'), '--home', node.home],
      [missing],
      [missing, '-o', join(dir, 'out-e'), '--json'],
      ['not-a-cid', '-o', join(dir, 'out-f')],
      [small, '-o', join(dir, 'no-such-dir', 'x')],
    ]
    for (const args of forms) {
      const fast = await run([noOclif.bin, 'pull', ...args], node.home)
      const full = await fullCli(['pull', ...args], node.home)
      const what = `pull ${args.join(' ')}`
      assert.equal(fast.code, full.code, `${what}: exit code (${fast.stderr})`)
      assert.ok(fast.stdout.equals(full.stdout), `${what}: stdout\n${fast.stdout}\n---\n${full.stdout}`)
      assert.equal(plain(fast.stderr), plain(full.stderr), `${what}: stderr`)
    }
    assert.ok(readFileSync(join(dir, 'out-a')).equals(bigData))
    // A reader that goes away early: the same exit code both ways.
    const closed = await runClosingStdout([noOclif.bin, 'pull', big], node.home)
    const code = `const {execute} = await import(${JSON.stringify(pathToFileURL(join(dirname(CLI), '..', 'dist', 'index.js')).href)}); await execute({dir: ${JSON.stringify(pathToFileURL(CLI).href)}, args: process.argv.slice(1)})`
    assert.equal(closed, await runClosingStdout(['--input-type=module', '-e', code, 'pull', big], node.home), 'exit code when stdout closes early')
    // The copy really has no oclif: a form the fast path leaves alone fails there.
    const help = await run([noOclif.bin, 'pull', '--help'], node.home)
    assert.notEqual(help.code, 0)
    assert.match(help.stderr, /the full CLI \(oclif\) was loaded/)
    assert.equal(readFileSync(join(dir, 'out-c'), 'utf8'), 'hello fast path\n')
  })

  it('takes the plain forms itself, with a node answering on the home', async () => {
    const out = join(dir, 'direct')
    assert.equal(await fastPull([big, '-o', out], {POLAR_HOME: node.home}), 0)
    assert.ok(readFileSync(out).equals(bigData))
    assert.equal(await fastPull([`--home=${node.home}`, small, '--output', join(dir, 'direct-2')], {}), 0)
    assert.equal(readFileSync(join(dir, 'direct-2'), 'utf8'), 'hello fast path\n')
  })

  it('knows every flag of the pull command (a new one must be taught to the fast path, or is left to oclif)', () => {
    // --force (print binary data to a terminal) is for a person at a terminal, not a script: left to oclif.
    assert.deepEqual(Object.keys({...Pull.baseFlags, ...Pull.flags}).sort(), ['force', 'home', 'node', 'output'])
    assert.equal(Pull.enableJsonFlag, true, '--json')
  })

  it('leaves everything else to the full CLI', async () => {
    const env = {POLAR_HOME: node.home}
    const o = join(dir, 'never')
    const others: string[][] = [
      [],
      ['--help'],
      [small, '-h'],
      [small, '-o'],
      [small, '-o', o, '-o', o],
      [small, '--json'], // --json needs -o: the full command explains
      [small, '--node', node.url],
      [small, '-x'],
      [small, '--force'],
      [small, small],
      [small, '-o', '--json'],
      [small, '--'],
    ]
    for (const args of others) assert.equal(await fastPull(args, env), undefined, `pull ${args.join(' ')}`)
    assert.equal(await fastPull([small, '-o', o], {...env, POLAR_NODE: node.url}), undefined, 'POLAR_NODE set')
    assert.equal(await fastPull([small, '-o', o], {...env, POLAR_CONTENT_TYPE: 'json'}), undefined, 'POLAR_CONTENT_TYPE set (oclif: --json)')
    assert.equal(await fastPull([small, '-o', o, '--json'], {...env, FORCE_COLOR: '1'}), undefined, 'FORCE_COLOR with --json')
    assert.equal(await fastPull([small, '-o', o], {POLAR_HOME: cluster.home('polar-no-node-')}), undefined, 'no node on the home')
    // A socket file nothing answers on (a node killed with SIGKILL leaves one).
    const stale = cluster.home('polar-stale-socket-')
    writeFileSync(join(stale, 'polar.sock'), '')
    assert.equal(await fastPull([small, '-o', o], {POLAR_HOME: stale}), undefined, 'a stale socket file')
  })
})
