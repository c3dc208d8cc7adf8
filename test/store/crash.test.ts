// Crash safety for real: whole `polar` processes SIGKILLed at random moments.
// About 10-20 s: a 200 MiB file is pushed five times to its death, then pushed
// and pulled whole; pulls are killed mid-way.
import assert from 'node:assert/strict'
import {createReadStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {basename, join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {CID} from 'multiformats/cid'
import {buildFile} from '../../src/lib/content/builder.js'
import {openStore} from '../../src/lib/store/store.js'
import {discardSink, MiB} from '../content/oracle.js'
import {json, runPolar, sha256File, sleep, spawnPolar, writeRandomFile, type RunResult} from '../helpers.js'

const SIZE = 200 * MiB
const rand = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo))

/** Bytes the process has written so far (all threads), or -1 when it is gone or /proc is missing. */
function bytesWritten(pid: number): number {
  try {
    const m = /^wchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))
    return m ? Number(m[1]) : -1
  } catch {
    return -1
  }
}

/** Runs polar and SIGKILLs it once `trigger()` says so; resolves with how it ended. */
async function runAndKill(args: string[], home: string, trigger: (pid: number, elapsedMs: number) => boolean, signal: NodeJS.Signals = 'SIGKILL'): Promise<RunResult> {
  const {child, result} = spawnPolar(args, {home, timeoutMs: 120_000})
  let done = false
  void result.then(() => { done = true })
  const start = Date.now()
  while (!done) {
    if (trigger(child.pid!, Date.now() - start)) {
      child.kill(signal)
      break
    }
    await sleep(1)
  }
  return result
}

/** Opens the store the killed processes left and checks every indexed block. Returns indexed bytes. */
function checkStore(home: string): {blocks: number; bytes: number} {
  const store = openStore(home)
  try {
    const packs = new Map((store.db.prepare('SELECT id, size FROM packs').all() as Array<{id: number; size: number}>).map((p) => [p.id, p.size]))
    const rows = store.db.prepare('SELECT cid, pack, offset, length FROM blocks').all() as Array<{cid: Uint8Array; pack: number; offset: number; length: number}>
    let bytes = 0
    for (const row of rows) {
      const cid = CID.decode(row.cid)
      // The index never points past what its pack has committed, nor past the file's end.
      assert.ok(row.offset + row.length <= packs.get(row.pack)!, `block ${cid} past the committed size of pack ${row.pack}`)
      assert.ok(row.offset + row.length <= statSync(store.blocks.packPath(row.pack)).size)
      store.blocks.get(cid) // throws IntegrityError unless the bytes hash to the CID
      bytes += row.length
    }
    return {blocks: rows.length, bytes}
  } finally {
    store.close()
  }
}

describe('crash safety', {timeout: 240_000}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'polar-crash-'))
  const home = join(dir, 'home')
  const big = join(dir, 'big.bin')
  let sha = ''
  let cid = ''
  after(() => rmSync(dir, {recursive: true, force: true}))
  before(async () => {
    sha = writeRandomFile(big, SIZE)
    cid = (await buildFile(createReadStream(big, {highWaterMark: MiB}), discardSink())).cid.toString()
  })

  it('push killed 5 times in a row leaves only verifying blocks; the next push completes and pulls back exact', async () => {
    const log: string[] = []
    for (let round = 0; round < 5; round++) {
      const {bytes: indexed} = existsSync(join(home, 'polar.db')) ? checkStore(home) : {bytes: 0}
      let r: RunResult
      if (round === 0) {
        // Early: during start-up, key creation, database creation or the first writes.
        const at = rand(0, 400)
        r = await runAndKill(['push', big, '--json'], home, (_pid, ms) => ms >= at)
        log.push(`round ${round}: killed at ${at} ms`)
      } else {
        // Mid-write: after a random share of what is left to write.
        // (Not in the last few MiB, so a poll that comes late cannot miss the whole run.)
        const remaining = SIZE - indexed
        const at = rand(0, remaining > 16 * MiB ? remaining - 8 * MiB : Math.floor(remaining / 2))
        let fallbackMs = -1
        r = await runAndKill(['push', big, '--json'], home, (pid, ms) => {
          const w = bytesWritten(pid)
          if (w < 0 && fallbackMs < 0) fallbackMs = rand(100, 600) // no /proc: by time
          return w >= 0 ? w >= at : ms >= fallbackMs
        })
        log.push(`round ${round}: killed after ${Math.round(at / MiB)} of ${Math.round(remaining / MiB)} MiB left`)
      }
      assert.equal(r.signal, 'SIGKILL', `round ${round} ended by itself (code ${r.code}) before the kill; ${log.join('; ')}; stderr: ${r.stderr}`)
      const after = checkStore(home)
      assert.ok(after.bytes >= indexed, 'durable blocks stay durable')
      log.push(`${after.blocks} blocks indexed`)
    }
    const push = await runPolar(['push', big, '--json'], {home, timeoutMs: 120_000})
    assert.equal(push.code, 0, push.stderr + log.join('; '))
    assert.equal(json(push).cid, cid)
    assert.equal(json(push).size, SIZE)
    checkStore(home)
    const out = join(dir, 'out.bin')
    const pull = await runPolar(['pull', cid, '-o', out, '--json'], {home, timeoutMs: 120_000})
    assert.equal(pull.code, 0, pull.stderr)
    assert.deepEqual(json(pull), {cid, size: SIZE, path: out})
    assert.equal(await sha256File(out), sha)
    rmSync(out)
  })

  it('a pull killed mid-way never leaves a partial target (at most a dot-temp)', async () => {
    assert.ok(existsSync(join(home, 'polar.db')), 'runs after the push test')
    for (let round = 0; round < 4; round++) {
      const target = join(dir, `pulled-${round}.bin`)
      const existing = round % 2 === 1
      if (existing) writeFileSync(target, 'the old contents')
      const at = rand(1, SIZE - 16 * MiB)
      const temps = () => readdirSync(dir).filter((f) => f.startsWith(`.${basename(target)}.`))
      const r = await runAndKill(['pull', cid, '-o', target], home, () => temps().some((t) => {
        try { return statSync(join(dir, t)).size >= at } catch { return false }
      }))
      assert.equal(r.signal, 'SIGKILL', `round ${round}: pull finished (code ${r.code}) before ${at} bytes were written`)
      if (existing) assert.equal(readFileSync(target, 'utf8'), 'the old contents')
      else assert.equal(existsSync(target), false, 'no target after a killed pull')
      const left = readdirSync(dir).filter((f) => f.includes(basename(target)) && f !== basename(target))
      for (const f of left) assert.match(f, new RegExp(`^\\.${basename(target).replace('.', '\\.')}\\..*\\.tmp$`))
      for (const f of left) rmSync(join(dir, f))
      rmSync(target, {force: true})
    }
  })

  // Ctrl-C or a service manager's SIGTERM must stop a pull promptly: no target,
  // no temp file left, and an exit that says it was stopped (by the signal, or 130/143).
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`a pull stopped by ${signal} stops promptly, removes its temp file and leaves no target`, async () => {
      const target = join(dir, `term-${signal}.bin`)
      const at = rand(MiB, SIZE / 4)
      const temps = () => readdirSync(dir).filter((f) => f.startsWith(`.${basename(target)}.`))
      let sentAt = 0
      const r = await runAndKill(['pull', cid, '-o', target], home, () => {
        const hit = temps().some((t) => {
          try { return statSync(join(dir, t)).size >= at } catch { return false }
        })
        if (hit) sentAt = Date.now()
        return hit
      }, signal)
      const tookMs = Date.now() - sentAt
      const grown = existsSync(target) ? statSync(target).size : 0
      rmSync(target, {force: true})
      assert.ok(sentAt > 0, `the pull ended before writing ${at} bytes`)
      assert.ok(r.signal === signal || (r.code !== 0 && r.code !== null), `exit code ${r.code}, signal ${r.signal}: the ${signal} was not honoured`)
      assert.equal(grown, 0, `a ${grown}-byte target appeared after ${signal}`)
      assert.deepEqual(temps(), [])
      // A hang bound, not a timing: the pull must stop on the signal rather than run on to the end
      // (generous, so a loaded machine does not fail it).
      assert.ok(tookMs < 10_000, `took ${tookMs} ms to stop`)
    })
  }
})
