import assert from 'node:assert/strict'
import {existsSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {CID} from 'multiformats/cid'
import {isDid} from '../../src/lib/identity/did.js'
import {KeyStore} from '../../src/lib/identity/key-store.js'
import {decodeObjectRecord} from '../../src/lib/records/object-record.js'
import {openStore} from '../../src/lib/store/store.js'
import {asAsync, MiB, oracleCid, prng} from '../content/oracle.js'
import {json, runPolar, spawnPolar, tmpHome} from '../helpers.js'

describe('push and pull round trips', () => {
  const {home, cleanup} = tmpHome()
  after(cleanup)

  for (const size of [0, MiB - 1, MiB, MiB + 1, 2 * MiB + 1]) {
    it(`${size} bytes: file and stdin give the importer's CID and pull back exact (to stdout${size > MiB ? ' and -o' : ''})`, async () => {
      const data = prng(size, size + 17)
      const file = join(home, `in-${size}.bin`)
      writeFileSync(file, data)
      const [fromFile, fromStdin] = await Promise.all([
        runPolar(['push', file, '-q'], {home}),
        runPolar(['push', '-', '-q'], {home, input: data}),
      ])
      assert.equal(fromFile.code, 0, fromFile.stderr)
      assert.equal(fromStdin.code, 0, fromStdin.stderr)
      const cid = fromFile.stdout.toString().trim()
      assert.equal(fromStdin.stdout.toString().trim(), cid)
      assert.equal(cid, (await oracleCid(asAsync([data]))).toString())

      const toStdout = await runPolar(['pull', cid], {home})
      assert.equal(toStdout.code, 0, toStdout.stderr)
      assert.ok(toStdout.stdout.equals(Buffer.from(data)), `stdout holds ${toStdout.stdout.length} bytes`)
      if (size <= MiB) return // -o once a DAG has several blocks is enough
      const target = join(home, `out-${size}.bin`)
      const toFile = await runPolar(['pull', cid, '-o', target], {home})
      assert.equal(toFile.code, 0, toFile.stderr)
      assert.equal(toFile.stdout.length, 0, 'with -o nothing on stdout')
      assert.ok(readFileSync(target).equals(Buffer.from(data)))
    })
  }

  it('pull -o --json prints {cid, size, path}', async () => {
    const data = prng(1234, 5)
    const push = await runPolar(['push', '-', '-q'], {home, input: data})
    const cid = push.stdout.toString().trim()
    const target = join(home, 'json-out.bin')
    const r = await runPolar(['pull', cid, '-o', target, '--json'], {home})
    assert.equal(r.code, 0, r.stderr)
    const doc = json(r)
    assert.equal(doc.cid, cid)
    assert.equal(doc.size, 1234)
    assert.equal(doc.path, target)
    assert.ok(readFileSync(target).equals(Buffer.from(data)))
  })

  it('pull -o replaces an existing file', async () => {
    const push = await runPolar(['push', '-', '-q'], {home, input: 'new contents'})
    const target = join(home, 'replace.txt')
    writeFileSync(target, 'old contents that are longer than the new ones')
    const r = await runPolar(['pull', push.stdout.toString().trim(), '-o', target], {home})
    assert.equal(r.code, 0, r.stderr)
    assert.equal(readFileSync(target, 'utf8'), 'new contents')
  })

  it('pull into a closed pipe (`polar pull X | head -c 10`) stops quietly', async () => {
    const data = prng(6 * MiB, 77)
    const push = await runPolar(['push', '-', '-q'], {home, input: data})
    const {child, result} = spawnPolar(['pull', push.stdout.toString().trim()], {home})
    child.stdout!.once('data', () => child.stdout!.destroy())
    const r = await result
    assert.equal(r.code, 0, `exit ${r.code} ${r.signal}: ${r.stderr}`)
    assert.doesNotMatch(r.stderr, /EPIPE|at .*\.js/)
  })
})

describe('first use from several processes at once', () => {
  const {home, cleanup} = tmpHome()
  after(cleanup)

  it('parallel pushes on a fresh home agree on one default identity and all succeed', async () => {
    const runs = await Promise.all([0, 1, 2, 3].map((i) => runPolar(['push', '-', '--json'], {home, input: prng(100_000 + i, i)})))
    for (const r of runs) assert.equal(r.code, 0, r.stderr)
    const owners = new Set(runs.map((r) => json(r).owner))
    assert.equal(owners.size, 1)
    assert.equal(new KeyStore(home).load('default').did, [...owners][0])
    assert.deepEqual(readdirSync(join(home, 'keys')), ['default'], 'no temp files left behind')
    for (const r of runs) {
      const pull = await runPolar(['pull', json(r).cid], {home})
      assert.equal(pull.code, 0, pull.stderr)
      assert.equal(pull.stdout.length, json(r).size)
    }
  })
})

describe('push output and records', () => {
  const {home, cleanup} = tmpHome()
  after(cleanup)
  const file = join(home, 'notes.txt')
  writeFileSync(file, 'some notes\n')

  it('--json prints {cid, size, name, owner, replicas} and nothing else on stdout', async () => {
    const r = await runPolar(['push', file, '--json'], {home})
    assert.equal(r.code, 0, r.stderr)
    const doc = json(r)
    for (const k of ['cid', 'size', 'name', 'owner', 'replicas']) assert.ok(k in doc, k)
    assert.equal(CID.parse(doc.cid).toString(), doc.cid)
    assert.equal(doc.size, 11)
    assert.equal(doc.name, 'notes.txt')
    assert.ok(isDid(doc.owner))
    assert.ok(Number.isInteger(doc.replicas) && doc.replicas >= 1, String(doc.replicas))
    // The default identity was created on first use, and it is the owner.
    assert.equal(new KeyStore(home).load('default').did, doc.owner)
    assert.doesNotMatch(r.stderr, /\r|\u001b\[/, 'no progress bar when stderr is not a TTY')
  })

  it('-q prints the CID alone on one line', async () => {
    const r = await runPolar(['push', file, '-q'], {home})
    assert.equal(r.code, 0, r.stderr)
    const text = r.stdout.toString()
    assert.match(text, /^b[a-z2-7]+\n$/)
    assert.equal(text, (await oracleCid(asAsync([readFileSync(file)]))).toString() + '\n')
  })

  it('plain push prints the CID as the result on stdout, notes on stderr', async () => {
    const r = await runPolar(['push', file], {home})
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout.toString(), /^b[a-z2-7]+\n$/)
  })

  it('--name, --tag and --mime land in the signed record', async () => {
    const r = await runPolar(['push', file, '--name', 'Meeting notes.md', '--tag', 'work', '--tag', '2026', '-t', 'work', '--json'], {home})
    assert.equal(r.code, 0, r.stderr)
    const doc = json(r)
    assert.equal(doc.name, 'Meeting notes.md')
    if ('tags' in doc) assert.deepEqual(doc.tags, ['2026', 'work'])
    if ('mime' in doc) assert.equal(doc.mime, 'text/markdown')

    const m = await runPolar(['push', '-', '--name', 'data', '--mime', 'application/x-polar-test', '--json'], {home, input: 'some notes\n'})
    assert.equal(m.code, 0, m.stderr)
    assert.equal(json(m).cid, doc.cid, 'same bytes, same CID')

    const store = openStore(home)
    try {
      const records = store.records.objectsByRoot(doc.cid)
      const named = records.find((x) => x.name === 'Meeting notes.md')
      assert.ok(named, JSON.stringify(records))
      assert.deepEqual(named.tags, ['2026', 'work'])
      assert.equal(named.mime, 'text/markdown')
      assert.equal(named.owner, doc.owner)
      assert.equal(named.size, 11)
      const signed = decodeObjectRecord(store.records.bytesOf(named.cid)!)
      assert.equal(signed.record.root.toString(), doc.cid)
      assert.equal(signed.record.name, 'Meeting notes.md')
      assert.deepEqual(signed.record.tags, ['2026', 'work'])
      assert.equal(signed.record.owner, doc.owner)
      const typed = records.find((x) => x.name === 'data')
      assert.ok(typed)
      assert.equal(typed.mime, 'application/x-polar-test')
      const stdin = store.records.objectsByRoot(doc.cid).find((x) => x.name === 'notes.txt')
      assert.equal(stdin?.mime, 'text/plain')
    } finally {
      store.close()
    }
  })

  it('stdin has no name and a generic media type by default', async () => {
    const r = await runPolar(['push', '-', '--json'], {home, input: 'from a pipe'})
    assert.equal(r.code, 0, r.stderr)
    assert.equal(json(r).name, '')
    const store = openStore(home)
    try {
      const [rec] = store.records.objectsByRoot(json(r).cid)
      assert.equal(rec.mime, 'application/octet-stream')
    } finally {
      store.close()
    }
  })

  it('bad --mime or --tag is bad input, and nothing is recorded', async () => {
    for (const args of [['--mime', 'not a type'], ['--tag', 'two words']]) {
      const r = await runPolar(['push', '-', ...args, '--json'], {home, input: 'rejected ' + args[0]})
      assert.equal(r.code, 2, args.join(' '))
      assert.equal(json(r).error.code, 'BAD_INPUT')
    }
  })

  it('--base with --node URL is bad input, before anything is sent', async () => {
    const r = await runPolar(['push', '-', '--base', 'none', '--node', 'http://127.0.0.1:9', '--json'], {home, input: 'x'})
    assert.equal(r.code, 2, r.stdout.toString())
    assert.match(json(r).error.message, /--base .*not with --node/)
  })

  it('--key signs with another identity; an unknown one is not found (exit 3)', async () => {
    const missing = await runPolar(['push', file, '--key', 'work', '--json'], {home})
    assert.equal(missing.code, 3)
    assert.equal(json(missing).error.code, 'NOT_FOUND')
    assert.equal(existsSync(join(home, 'keys', 'work')), false, 'not created behind the user\'s back')
    const kg = await runPolar(['keygen', '--name', 'work', '--json'], {home})
    assert.equal(kg.code, 0, kg.stderr)
    const r = await runPolar(['push', file, '--key', 'work', '--json'], {home})
    assert.equal(r.code, 0, r.stderr)
    assert.equal(json(r).owner, json(kg).did)
  })
})
