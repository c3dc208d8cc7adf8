// Row "push N MiB": `polar push FILE -q` as a whole process, fresh POLAR_HOME
// every run, against Helia's add path (bench/peers/helia-add.mjs:
// ipfs-unixfs-importer with the unixfs-v1-2025 profile into blockstore-fs) as
// a whole process, fresh blockstore directory every run. Same file for both,
// alternating; both must print the same root CID.
import {mkdtempSync, rmSync} from 'node:fs'
import {createRequire} from 'node:module'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {childEnv, mustSucceed, node, polarBin, syncDisks, timeProcess} from './lib/proc.js'
import {alternate} from './lib/stats.js'
import {writeRandomFile} from './lib/files.js'
import {failedRow, makeRow} from './lib/row.js'

const heliaAdd = fileURLToPath(new URL('./peers/helia-add.mjs', import.meta.url))
const MiB = 1024 * 1024
const PEER = 'Helia add (ipfs-unixfs-importer + blockstore-fs)'
/** Issue 15 point 9: 1.5x the IPFS importer at 256 MiB, durable, identical CIDs. */
const GOAL = {op: '>=', value: 1.5}


export default {
  name: 'push',
  rows: ['push 256 MiB (quick: 64 MiB)'],
  describe: `**push** — \`polar push FILE -q\` as a whole process with a fresh, empty \`POLAR_HOME\` each run
(so it includes creating the store and the default identity), against
\`node bench/peers/helia-add.mjs FILE DIR\`: Helia's add path — \`importByteStream\` of
ipfs-unixfs-importer with \`{profile: 'unixfs-v1-2025'}\` into an \`FsBlockstore\` (blockstore-fs)
created in a fresh directory. One random file is generated per bench run and used by both, so
both read it from the page cache. One untimed warm-up each, then alternating pairs (the order
flips every pair); after every run the store is deleted and \`sync\` is run, untimed, so no run
pays for the previous run's writeback. Both must print the same root CID on every run, else the
row fails. Value: file size / wall time (MiB/s); ratio = polar / peer throughput per pair, median
over pairs. Note that polar fsyncs every block before it reports success; blockstore-fs does not fsync.`,

  check() {
    const require = createRequire(import.meta.url)
    for (const dep of ['ipfs-unixfs-importer', 'blockstore-fs']) {
      try { require.resolve(dep) } catch {
        try { import.meta.resolve(dep) } catch { return `peer tool missing: ${dep} is not installed (npm install installs the dev dependencies)` }
      }
    }
    return null
  },

  async run({quick, log}) {
    const mib = quick ? 64 : 256
    const runs = quick ? 3 : 5
    const name = `push ${mib} MiB`
    const bytes = mib * MiB
    const scratch = mkdtempSync(join(tmpdir(), 'polar-bench-push-'))
    try {
      const file = join(scratch, 'input.bin')
      log(`  generating ${mib} MiB of random data`)
      writeRandomFile(file, bytes)
      let store
      const fresh = () => (store = mkdtempSync(join(scratch, 'store-')))

      const polar = async () => {
        const home = fresh()
        const r = mustSucceed(await timeProcess(node, [polarBin, 'push', file, '-q'], {env: childEnv({POLAR_HOME: home})}), 'polar push')
        check(r.stdout, 'polar')
        return bytes / MiB / (r.ms / 1000)
      }
      const peer = async () => {
        const dir = join(fresh(), 'blocks') // created by the peer (createIfMissing)
        const r = mustSucceed(await timeProcess(node, [heliaAdd, file, dir]), 'helia-add')
        check(r.stdout, 'peer')
        return bytes / MiB / (r.ms / 1000)
      }
      let expected
      const check = (stdout, who) => {
        const cid = stdout.trim()
        if (!/^baf[a-z2-7]+$/.test(cid)) throw new CidError(`${who} printed ${JSON.stringify(stdout.slice(0, 200))}, not a CID`)
        expected ??= cid
        if (cid !== expected) throw new CidError(`root CIDs differ: ${who} printed ${cid}, the other side ${expected}`)
      }
      const between = async () => {
        rmSync(store, {recursive: true, force: true})
        syncDisks()
      }

      let samples
      try {
        samples = await alternate({runs, warmup: 1, polar, peer, between, log})
      } catch (e) {
        if (!(e instanceof CidError)) throw e
        log(`  FAILED: ${e.message}`)
        return [failedRow({name, peer: PEER, unit: 'MiB/s', goal: GOAL, better: 'higher', status: 'cid-mismatch', error: e.message})]
      }
      return [makeRow({
        name, peer: PEER, unit: 'MiB/s', samples, goal: GOAL, better: 'higher',
        ratioOf: (p, q) => p / q,
        ratioDefinition: 'polar throughput / peer throughput',
        details: {input: {bytes, cid: expected}},
      })]
    } finally {
      rmSync(scratch, {recursive: true, force: true})
    }
  },
}

class CidError extends Error {}
