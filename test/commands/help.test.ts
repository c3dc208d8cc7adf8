import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {ROOT, runPolar, tmpHome} from '../helpers.js'

describe('help and version', () => {
  const {home, cleanup} = tmpHome()
  after(cleanup)

  for (const cmd of ['push', 'pull', 'keygen']) {
    it(`${cmd} --help shows usage and examples`, async () => {
      const r = await runPolar([cmd, '--help'], {home})
      assert.equal(r.code, 0, r.stderr)
      const text = r.stdout.toString()
      assert.match(text, /USAGE/)
      assert.match(text, new RegExp(`\\$ polar ${cmd}\\b`))
      assert.match(text, /EXAMPLES/)
      const examples = text.slice(text.indexOf('EXAMPLES'))
      assert.ok(examples.split('\n').filter((l) => l.includes(`polar ${cmd}`)).length >= 2, examples)
      assert.ok(!examples.includes('<%='), 'templates are rendered')
    })
  }

  it('polar --help lists the commands', async () => {
    const r = await runPolar(['--help'], {home})
    assert.equal(r.code, 0, r.stderr)
    for (const cmd of ['keygen', 'push', 'pull', 'erase', 'search', 'seed', 'serve', 'trust', 'peers', 'nat-test']) {
      assert.match(r.stdout.toString(), new RegExp(`^\\s+${cmd}\\s`, 'm'), cmd)
    }
  })

  it('polar --version prints the package name and version', async () => {
    const {name, version} = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
    const r = await runPolar(['--version'], {home})
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout.toString(), new RegExp(`^${name}/${version.replace(/\./g, '\\.')} `))
  })
})

// oclif conventions (issue 19): `polar help COMMAND` (it was an unknown
// command) and shell completion, both loaded only when they run.
describe('help command and shell completion', () => {
  const {home, cleanup} = tmpHome()
  after(cleanup)

  it('`polar help push` and `polar help trust add` show the command help, as --help does', async () => {
    for (const cmd of [['push'], ['trust', 'add']]) {
      const r = await runPolar(['help', ...cmd], {home})
      assert.equal(r.code, 0, r.stderr)
      const flag = await runPolar([...cmd, '--help'], {home})
      assert.equal(r.stdout.toString(), flag.stdout.toString())
      assert.match(r.stdout.toString(), new RegExp(`\\$ polar ${cmd.join(' ')}\\b`))
    }
    const list = await runPolar(['--help'], {home})
    assert.match(list.stdout.toString(), /^\s+help\s/m)
    assert.match(list.stdout.toString(), /^\s+autocomplete\s/m)
  })

  it('`polar help frob` is an unknown command: exit 2, said as polar says it', async () => {
    const r = await runPolar(['help', 'frob'], {home})
    assert.equal(r.code, 2)
    assert.match(r.stderr, /^polar: unknown command "frob"; see `polar --help`/)
  })

  it('`polar autocomplete` writes bash completion that completes commands and flags', async () => {
    const cache = join(home, 'cache')
    const env = {XDG_CACHE_HOME: cache}
    const r = await runPolar(['autocomplete', 'bash'], {home, env})
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout.toString(), /polar autocomplete script bash/)
    const script = await runPolar(['autocomplete', 'script', 'bash'], {home, env})
    assert.equal(script.code, 0, script.stderr)
    const setup = script.stdout.toString()
    assert.match(setup, /POLAR_AC_BASH_SETUP_PATH=/)
    // What a shell does on TAB: COMP_WORDS/COMP_CWORD, then the function `complete -F` names.
    const complete = (words: string[]) => {
      const sh = join(home, 'complete.sh')
      writeFileSync(sh, `${setup}\nfn=$(complete -p polar | sed -E 's/.*-F ([^ ]+).*/\\1/')\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})\nCOMP_CWORD=${words.length - 1}\n"$fn" 2>/dev/null\nprintf '%s\\n' "\${COMPREPLY[@]}"\n`)
      const out = spawnSync('bash', [sh], {encoding: 'utf8'})
      assert.equal(out.status, 0, out.stderr)
      return out.stdout.split('\n').filter(Boolean)
    }
    assert.deepEqual(complete(['polar', 'pu']).sort(), ['pull', 'push'])
    assert.deepEqual(complete(['polar', 'he']), ['help'])
    assert.deepEqual(complete(['polar', 'pull', '--o']), ['--output'])
    assert.deepEqual(complete(['polar', 'trust', 'add', '--w']), ['--weight'])
  })

  it('polar --version and a pull load neither the help command nor autocomplete', async () => {
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
    const push = await runPolar(['push', '-', '-q'], {home, input: 'traced'})
    assert.equal(push.code, 0, push.stderr)
    const cid = push.stdout.toString().trim()
    for (const args of [['--version'], ['pull', cid], ['push', '--help']]) {
      const trace = join(home, `trace-${args[0]}.txt`)
      writeFileSync(trace, '')
      const r = await runPolar(args, {home, env: {POLAR_TRACE_FILE: trace, NODE_OPTIONS: `--import ${hook}`}})
      assert.equal(r.code, 0, r.stderr)
      const loaded = readFileSync(trace, 'utf8').split('\n').filter(Boolean)
      assert.ok(loaded.some((u) => u.includes('/dist/')), 'the trace saw polar load')
      assert.deepEqual(loaded.filter((u) => /plugin-help|plugin-autocomplete|\/commands\/help\.js|\/commands\/autocomplete\/|\/ejs\//.test(u)), [], args.join(' '))
    }
  })
})
