// Commands stay thin (STYLE.md "How polar is written" 2; issue 14 point 4):
// a command parses, gets its client and calls one method of it. None names a
// local-API path or branches on the kind of target, and none holds SQL,
// crypto or HTTP: those live in src/lib (the three clients in src/lib/client).
import assert from 'node:assert/strict'
import {readdirSync, readFileSync, statSync} from 'node:fs'
import {join, relative} from 'node:path'
import {describe, it} from 'node:test'
import {ROOT} from '../helpers.js'

const commands = join(ROOT, 'src', 'commands')
const walk = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? walk(join(dir, f)) : f.endsWith('.ts') ? [join(dir, f)] : []))

const RULES: Array<[string, RegExp]> = [
  ['a local-API path', /['"`]\/api\//],
  ['a branch on the target kind', /\.kind\b|kind\s*===|['"](local|remote|embedded)['"]\s*(===|!==)|(===|!==)\s*['"](local|remote|embedded)['"]/],
  ['SQL', /\b(SELECT\s[\s\S]*?\sFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b|\.prepare\(/],
  ['crypto', /from\s+['"](node:crypto|crypto|@noble\/[^'"]+)['"]|import\(['"](node:crypto|@noble\/)|\bcreateHash\(|\bsign(Record|ObjectRecord|TrustRecord|Erasures)\(/],
  ['HTTP', /from\s+['"](node:https?|https?|undici)['"]|import\(['"](node:https?|undici)['"]\)|\bfetch\(|\bPeerClient\b|net\/(client\.js|peer\/)/],
]

describe('command files are thin', () => {
  // Lines the commands held before the clients (git show 66bb063:src/commands/…): each rule must catch its own.
  it('each rule catches what the commands held before', () => {
    const before: Array<[string, string]> = [
      ['a local-API path', "result = await target.client.json<EraseResult>('POST', '/api/v1/erase', {cid: args.cid, key: flags.key})"],
      ['a local-API path', 'const r = await target.client.json(`DELETE`, `/api/v1/peers/${args.did}`)'],
      ['a branch on the target kind', "if (target.kind === 'local') {"],
      ['a branch on the target kind', "const source = kind === 'remote' ? url : home"],
      ['SQL', "store.db.prepare('SELECT did FROM peers WHERE state = ?').all('alive')"],
      ['crypto', "import {createHash} from 'node:crypto'"],
      ['crypto', 'const signed = signErasures(records, identity)'],
      ['HTTP', "import {Pool} from 'undici'"],
      ['HTTP', "const {PeerClient} = await import('../lib/net/peer/index.js'); new PeerClient(url)"],
    ]
    for (const [what, line] of before) {
      const re = RULES.find(([name]) => name === what)![1]
      assert.ok(re.test(line), `${what} not caught in ${line}`)
    }
  })

  it('no command file names an /api/ path, branches on the target kind, or holds SQL, crypto or HTTP', () => {
    const found: string[] = []
    for (const file of walk(commands)) {
      const text = readFileSync(file, 'utf8')
      for (const [what, re] of RULES) {
        const m = re.exec(text)
        if (m) found.push(`${relative(ROOT, file)}: ${what} (${JSON.stringify(m[0])})`)
      }
    }
    assert.deepEqual(found, [])
  })
})
