// polar sign / verify / encrypt / decrypt through the built binary (issue 16):
// no node, the keys of the home, the exit codes of docs/cli.md.
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {existsSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {after, before, describe, it} from 'node:test'
import {json, runPolar, tmpHome} from '../helpers.js'

describe('polar sign / verify', () => {
  const {home, cleanup} = tmpHome()
  const file = join(home, 'data.bin')
  let did: string
  after(cleanup)
  before(async () => {
    writeFileSync(file, randomBytes(3 * 1024 * 1024 + 11))
    const r = await runPolar(['keygen', '--name', 'work', '--json'], {home})
    assert.equal(r.code, 0, r.stderr)
    did = json(r).did
  })

  it('sign prints a base64 signature that verify accepts (exit 0); --json gives {signature, did, key}', async () => {
    const s = await runPolar(['sign', file, '--key', 'work'], {home})
    assert.equal(s.code, 0, s.stderr)
    const sig = s.stdout.toString().trim()
    assert.match(sig, /^[A-Za-z0-9+/]{86}==$/)
    const v = await runPolar(['verify', file, '--sig', sig, '--did', did], {home})
    assert.equal(v.code, 0, v.stderr)
    assert.match(v.stdout.toString(), /^valid signature by did:key:z6Mk/)
    const sj = await runPolar(['sign', file, '--key', 'work', '--json'], {home})
    assert.deepEqual(json(sj), {signature: sig, did, key: 'work'})
    // ed25519 is deterministic: the same data read from stdin gives the same signature.
    const ss = await runPolar(['sign', '-', '--key', 'work'], {home, input: readFileSync(file)})
    assert.equal(ss.code, 0, ss.stderr)
    assert.equal(ss.stdout.toString().trim(), sig)
    const vj = await runPolar(['verify', '-', '--sig', sig, '--did', did, '--json'], {home, input: readFileSync(file)})
    assert.equal(vj.code, 0, vj.stderr)
    assert.deepEqual(json(vj), {valid: true, did})
  })

  it('verify exits 4 for other data, another did, another context; 2 for a malformed signature or did', async () => {
    const sig = (await runPolar(['sign', file, '--key', 'work', '--context', 'shop'], {home})).stdout.toString().trim()
    const ok = await runPolar(['verify', file, '--sig', sig, '--did', did, '--context', 'shop'], {home})
    assert.equal(ok.code, 0, ok.stderr)
    const other = json(await runPolar(['keygen', '--name', 'other', '--json'], {home})).did
    const cases: Array<[string[], number, string?, Uint8Array?]> = [
      [['verify', '-', '--sig', sig, '--did', did, '--context', 'shop'], 4, 'SIGNATURE_INVALID', Buffer.from('other data')],
      [['verify', file, '--sig', sig, '--did', other, '--context', 'shop'], 4, 'SIGNATURE_INVALID'],
      [['verify', file, '--sig', sig, '--did', did], 4, 'SIGNATURE_INVALID'],
      [['verify', file, '--sig', 'bm90IGEgc2lnbmF0dXJl', '--did', did], 2, 'BAD_INPUT'],
      [['verify', file, '--sig', sig, '--did', 'did:key:z6Mkfake'], 2, 'BAD_INPUT'],
      [['verify', join(home, 'missing'), '--sig', sig, '--did', did], 2, 'BAD_INPUT'],
      [['verify', file, '--did', did], 2, 'USAGE'],
    ]
    for (const [args, exit, code, input] of cases) {
      const r = await runPolar([...args, '--json'], {home, input})
      assert.equal(r.code, exit, `${args.join(' ')}: ${r.stdout}`)
      assert.equal(json(r).error.code, code, args.join(' '))
    }
  })

  it('sign with a missing --key is exit 3; without --key the default identity is made on first use', async () => {
    const r = await runPolar(['sign', file, '--key', 'nope', '--json'], {home})
    assert.equal(r.code, 3)
    assert.equal(json(r).error.code, 'NOT_FOUND')
    const d = await runPolar(['sign', file, '--json'], {home})
    assert.equal(d.code, 0, d.stderr)
    assert.equal(json(d).key, 'default')
    assert.ok(existsSync(join(home, 'keys', 'default')))
  })
})

describe('polar encrypt / decrypt', () => {
  const alice = tmpHome()
  const bob = tmpHome()
  const carol = tmpHome()
  const dids: Record<string, string> = {}
  after(() => { alice.cleanup(); bob.cleanup(); carol.cleanup() })
  before(async () => {
    for (const [name, h] of Object.entries({alice, bob, carol})) {
      const r = await runPolar(['keygen', '--json'], {home: h.home})
      assert.equal(r.code, 0, r.stderr)
      dids[name] = json(r).did
    }
  })

  it('alice encrypts 3 MiB for bob and herself; both decrypt the exact bytes; carol gets exit 4', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 5)
    const e = await runPolar(['encrypt', '--to', dids.bob, '--to', dids.alice, '-'], {home: alice.home, input: data})
    assert.equal(e.code, 0, e.stderr)
    assert.equal(e.stdout.length, 11 + 2 * 80 + 32 + data.length + 4 * 16)
    assert.equal(e.stdout.indexOf(data.subarray(0, 64)), -1, 'no plaintext in the envelope')
    for (const h of [bob, alice]) {
      const d = await runPolar(['decrypt'], {home: h.home, input: e.stdout})
      assert.equal(d.code, 0, d.stderr)
      assert.ok(d.stdout.equals(data))
    }
    const c = await runPolar(['decrypt', '--json', '-o', join(carol.home, 'out')], {home: carol.home, input: e.stdout})
    assert.equal(c.code, 4)
    assert.equal(json(c).error.code, 'NOT_A_RECIPIENT')
    assert.ok(!existsSync(join(carol.home, 'out')))
  })

  it('with no --to, encrypts for your own key; files in and out with -o and --json', async () => {
    const src = join(alice.home, 'note.txt')
    writeFileSync(src, 'a note to self\n')
    const env = join(alice.home, 'note.polar')
    const e = await runPolar(['encrypt', src, '-o', env, '--json'], {home: alice.home})
    assert.equal(e.code, 0, e.stderr)
    assert.deepEqual(json(e), {recipients: [dids.alice], size: readFileSync(env).length, path: env})
    const out = join(alice.home, 'note.out')
    const d = await runPolar(['decrypt', env, '-o', out, '--json'], {home: alice.home})
    assert.equal(d.code, 0, d.stderr)
    assert.deepEqual(json(d), {key: 'default', did: dids.alice, size: 15, path: out})
    assert.equal(readFileSync(out, 'utf8'), 'a note to self\n')
    const b = await runPolar(['decrypt', env], {home: bob.home})
    assert.equal(b.code, 4)
    assert.match(b.stderr, /not encrypted for your key \(default\)/)
  })

  it('a tampered envelope: exit 4, and with -o no file appears', async () => {
    const data = randomBytes(2 * 1024 * 1024)
    const e = await runPolar(['encrypt', '--to', dids.bob], {home: alice.home, input: data})
    assert.equal(e.code, 0, e.stderr)
    for (const at of [3, 100, 11 + 80 + 5, 1024 * 1024 + 300, e.stdout.length - 1]) {
      const bad = Buffer.from(e.stdout)
      bad[at] ^= 0x04
      const out = join(bob.home, `out-${at}`)
      const d = await runPolar(['decrypt', '-o', out, '--json'], {home: bob.home, input: bad})
      assert.equal(d.code, 4, `byte ${at}: ${d.stdout}`)
      assert.ok(!existsSync(out), `byte ${at}: a file appeared`)
      assert.deepEqual(readdirSync(bob.home).filter((f) => f.includes('out-')), [], 'no temp file left')
    }
    // Three chunks: two full ones and a last one of 32 + 16 bytes. Cut at the boundary before it: exit 4.
    const last = data.length - 2 * (1024 * 1024 - 16) + 16
    const cut = await runPolar(['decrypt'], {home: bob.home, input: e.stdout.subarray(0, e.stdout.length - last)})
    assert.equal(cut.code, 4, 'cut at a chunk boundary')
    assert.match(cut.stderr, /does not verify at its end/)
  })

  it('bad input: exit 2 for a malformed did, an unreadable file, --json without -o; exit 3 for a missing --key or no identity', async () => {
    const cases: Array<[string[], string, number, string]> = [
      [['encrypt', '--to', 'did:key:z6Mkbogus', '-', '-o', join(alice.home, 'x')], alice.home, 2, 'BAD_INPUT'],
      [['encrypt', '--to', 'bob', '-o', join(alice.home, 'x')], alice.home, 2, 'BAD_INPUT'],
      [['encrypt', join(alice.home, 'missing'), '-o', join(alice.home, 'x')], alice.home, 2, 'BAD_INPUT'],
      [['encrypt', '-'], alice.home, 2, 'USAGE'],
      [['decrypt', '-'], alice.home, 2, 'USAGE'],
      [['decrypt', '--key', 'nope', '-o', join(alice.home, 'x')], alice.home, 3, 'NOT_FOUND'],
    ]
    for (const [args, home, exit, code] of cases) {
      const r = await runPolar([...args, '--json'], {home, input: 'x'})
      assert.equal(r.code, exit, `${args.join(' ')}: ${r.stdout}`)
      assert.equal(json(r).error.code, code, args.join(' '))
      assert.ok(!existsSync(join(alice.home, 'x')), 'no output file on a refusal')
    }
    const empty = tmpHome()
    try {
      const r = await runPolar(['decrypt', '-o', join(empty.home, 'x'), '--json'], {home: empty.home, input: 'x'})
      assert.equal(r.code, 3)
      assert.equal(json(r).error.code, 'NO_IDENTITY')
    } finally {
      empty.cleanup()
    }
    const notEnvelope = await runPolar(['decrypt'], {home: alice.home, input: 'plain text'})
    assert.equal(notEnvelope.code, 4)
    assert.match(notEnvelope.stderr, /not a polar envelope/)
  })

  it('the four commands show usage and examples', async () => {
    for (const cmd of ['sign', 'verify', 'encrypt', 'decrypt']) {
      const r = await runPolar([cmd, '--help'], {home: alice.home})
      assert.equal(r.code, 0, r.stderr)
      const text = r.stdout.toString()
      assert.match(text, new RegExp(`\\$ polar ${cmd}\\b`))
      assert.ok(text.slice(text.indexOf('EXAMPLES')).split('\n').filter((l) => l.includes(`polar ${cmd}`)).length >= 2, text)
      assert.match(text, /Exit codes: /, `${cmd}: the help says what each exit code means`)
      assert.doesNotMatch(text, /\[default: \]/, `${cmd}: an empty default is shown as "[default: ]"`)
    }
  })
})

// The curve library (@noble/curves, for X25519) loads only for encrypt and decrypt:
// `polar --version`, sign and verify start as before (STYLE.md rule 7).
describe('start-up: what the crypto commands load', () => {
  const {home, cleanup} = tmpHome()
  after(cleanup)

  it('--version, sign and verify load no curve code; encrypt does (so the check can see it)', async () => {
    const hook = join(home, 'trace-hook.mjs')
    writeFileSync(hook, `import {register} from 'node:module'
register('data:text/javascript,' + encodeURIComponent(\`
import {appendFileSync} from 'node:fs'
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context)
  appendFileSync(process.env.POLAR_TRACE_FILE, r.url + '\\\\n')
  return r
}\`))
`)
    const file = join(home, 'f')
    writeFileSync(file, 'data')
    const sig = (await runPolar(['sign', file], {home})).stdout.toString().trim()
    const did = json(await runPolar(['sign', file, '--json'], {home})).did
    const loads = async (args: string[]) => {
      const trace = join(home, `trace-${args[0]}.txt`)
      writeFileSync(trace, '')
      const r = await runPolar(args, {home, env: {POLAR_TRACE_FILE: trace, NODE_OPTIONS: `--import ${hook}`}})
      assert.equal(r.code, 0, r.stderr)
      const files = readFileSync(trace, 'utf8').split('\n').filter((u) => u.startsWith('file:') && u.includes('/dist/'))
      assert.ok(files.length > 0, 'the trace saw polar load')
      return files.filter((u) => readFileSync(fileURLToPath(u), 'utf8').includes('toMontgomerySecret'))
    }
    assert.deepEqual(await loads(['--version']), [])
    assert.deepEqual(await loads(['sign', file]), [])
    assert.deepEqual(await loads(['verify', file, '--sig', sig, '--did', did]), [])
    assert.equal((await loads(['encrypt', file, '-o', join(home, 'f.polar')])).length, 1)
  })
})
