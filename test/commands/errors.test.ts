// Exit codes and the --json error shape of CLI.md.
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {CID} from 'multiformats/cid'
import {sha512} from 'multiformats/hashes/sha2'
import {cidOf} from '../../src/lib/content/cid.js'
import {RAW_CODE} from '../../src/lib/content/constants.js'
import {json, ROOT, runPolar, tmpHome, type RunResult} from '../helpers.js'

const HELLO = 'bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e'

/** A --json failure: exactly one JSON document on stdout with a stable code and a message. */
function jsonError(r: RunResult): {code: string; message: string} {
  const text = r.stdout.toString()
  const doc = JSON.parse(text) // throws if stdout holds anything else
  assert.ok(doc.error, `no error object in ${text}`)
  assert.match(doc.error.code, /^[A-Z][A-Z0-9_]*$/)
  assert.equal(typeof doc.error.message, 'string')
  assert.ok(doc.error.message.length > 0)
  return doc.error
}

describe('CLI errors', () => {
  const {home, cleanup} = tmpHome()
  after(cleanup)
  const out = join(home, 'out.bin')

  it('a malformed CID is bad input: exit 2, BAD_INPUT', async () => {
    await Promise.all(['notacid', 'bafy', 'Qm123', 'bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5', 'z' + '1'.repeat(300)].map(async (bad) => {
      const r = await runPolar(['pull', bad, '-o', out, '--json'], {home})
      assert.equal(r.code, 2, `${bad}: ${r.stdout}${r.stderr}`)
      assert.equal(jsonError(r).code, 'BAD_INPUT')
    }))
    const h = await runPolar(['pull', 'notacid'], {home})
    assert.equal(h.code, 2)
    assert.equal(h.stdout.length, 0)
    assert.match(h.stderr, /CID/i)
  })

  it('a malformed CID says what a CID looks like, in pull and erase, before any other complaint', async () => {
    await runPolar(['keygen'], {home}) // erase looks up its key first (exit 3 without one); EXISTS when there is one is fine
    for (const args of [['pull', 'notacid', '-o', out, '--json'], ['pull', 'notacid', '--json'], ['erase', 'notacid', '--json']]) {
      const r = await runPolar(args, {home})
      assert.equal(r.code, 2, args.join(' '))
      const e = jsonError(r)
      assert.equal(e.code, 'BAD_INPUT', args.join(' '))
      // Not the multibase library's "To parse non base32, base36 or base58btc encoded CID multibase decoder must be provided",
      // and `pull notacid --json` names the CID, not the missing -o (issue 19).
      assert.match(e.message, /^not a CID: "notacid"; a CID looks like bafybei… or bafkrei…/, args.join(' '))
      assert.doesNotMatch(e.message, /multibase|decoder|-o/, args.join(' '))
    }
    const cut = await runPolar(['pull', HELLO.slice(0, -3), '-o', out, '--json'], {home})
    assert.match(jsonError(cut).message, /56 characters: cut short\?/)
  })

  it('a CID polar cannot verify (other hash, other codec) is bad input', async () => {
    const bytes = new TextEncoder().encode('hello world')
    for (const cid of [CID.createV1(RAW_CODE, sha512.digest(bytes) as any), CID.createV1(0x0129, cidOf(RAW_CODE, bytes).multihash)]) {
      const r = await runPolar(['pull', cid.toString(), '-o', out, '--json'], {home})
      assert.equal(r.code, 2, `${cid}: ${r.stdout}`)
      assert.equal(jsonError(r).code, 'BAD_INPUT')
    }
  })

  it('a missing or unreadable file is bad input: exit 2', async () => {
    const r = await runPolar(['push', join(home, 'does-not-exist'), '--json'], {home})
    assert.equal(r.code, 2)
    assert.equal(jsonError(r).code, 'BAD_INPUT')
    const h = await runPolar(['push', join(home, 'does-not-exist')], {home})
    assert.equal(h.code, 2)
    assert.equal(h.stdout.length, 0)
    assert.match(h.stderr, /does-not-exist/)
    const d = await runPolar(['push', home, '--json'], {home})
    assert.equal(d.code, 2, 'a directory')
    assert.equal(jsonError(d).code, 'BAD_INPUT')
  })

  it('an unknown flag is bad usage: exit 2, USAGE under --json', async () => {
    await Promise.all([['push', '--bogus', 'x'], ['pull', HELLO, '--frobnicate'], ['keygen', '--nmae', 'x']].map(async (args) => {
      const r = await runPolar([...args, '--json'], {home})
      assert.equal(r.code, 2, args.join(' '))
      assert.equal(jsonError(r).code, 'USAGE')
    }))
    const h = await runPolar(['push', '--bogus', 'x'], {home})
    assert.equal(h.code, 2)
    assert.equal(h.stdout.length, 0, 'errors go to stderr')
    assert.match(h.stderr, /bogus/)
  })

  it('a missing argument is bad usage: exit 2', async () => {
    for (const cmd of ['push', 'pull']) {
      const r = await runPolar([cmd, '--json'], {home})
      assert.equal(r.code, 2, cmd)
      assert.equal(jsonError(r).code, 'USAGE')
    }
  })

  it("oclif's parse errors are one line in polar's words, with where the help is (not oclif's raw texts)", async () => {
    const cases: Array<[string[], RegExp]> = [
      [['push'], /^missing FILE \(file to push, or - for standard input\); see `polar push --help`$/],
      [['trust', 'add', 'did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK'], /^missing --weight \(a positive number\); see `polar trust add --help`$/],
      [['push', 'x', '--replicas', '0'], /^--replicas must be an integer greater than or equal to 1, got "0"; see `polar push --help`$/],
      [['push', '--bogus', 'x'], /^unknown flag --bogus; see `polar push --help`$/],
    ]
    for (const [args, want] of cases) {
      const j = await runPolar([...args, '--json'], {home})
      assert.equal(j.code, 2, args.join(' '))
      const e = jsonError(j)
      assert.equal(e.code, 'USAGE')
      assert.match(e.message, want)
      // "--tag allows multiple values… provide all arguments before providing that flag", "The following error occurred: …"
      assert.doesNotMatch(e.message, /multiple values|The following error|See more help|\n/)
      const h = await runPolar(args, {home})
      assert.equal(h.code, 2)
      assert.equal(h.stderr, `polar: ${e.message}\n`)
    }
  })

  it('pull --json without -o is bad usage (the bytes would be the output): exit 2', async () => {
    const push = await runPolar(['push', '-', '-q'], {home, input: 'hello world'})
    assert.equal(push.code, 0, push.stderr)
    const r = await runPolar(['pull', HELLO, '--json'], {home})
    assert.equal(r.code, 2)
    jsonError(r)
  })

  it('an unknown object is not found: exit 3, NOT_FOUND', async () => {
    const unknown = cidOf(RAW_CODE, new TextEncoder().encode('never pushed')).toString()
    const r = await runPolar(['pull', unknown, '-o', out, '--json'], {home})
    assert.equal(r.code, 3)
    assert.equal(jsonError(r).code, 'NOT_FOUND')
    const h = await runPolar(['pull', unknown], {home})
    assert.equal(h.code, 3)
    assert.equal(h.stdout.length, 0)
  })

  it('-o into a directory that does not exist, or onto a directory, is bad input: exit 2', async () => {
    const [r, d] = await Promise.all([
      runPolar(['pull', HELLO, '-o', join(home, 'no', 'such', 'dir', 'f'), '--json'], {home}),
      runPolar(['pull', HELLO, '-o', home, '--json'], {home}),
    ])
    assert.equal(r.code, 2, r.stdout.toString())
    assert.equal(jsonError(r).code, 'BAD_INPUT')
    assert.equal(d.code, 2, d.stdout.toString())
    assert.equal(jsonError(d).code, 'BAD_INPUT')
  })
})

describe('the command set', () => {
  const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, {summary?: string; description?: string}>}

  it('every design command is registered, and none is a placeholder', () => {
    for (const id of ['keygen', 'push', 'pull', 'erase', 'search', 'seed', 'serve', 'trust', 'peers', 'nat-test']) {
      assert.ok(manifest.commands[id], `${id} is registered`)
    }
    for (const [id, c] of Object.entries(manifest.commands)) assert.doesNotMatch(`${c.summary ?? ''} ${c.description ?? ''}`, /not implemented/i, id)
  })
})
