import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
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

  it('polar --version prints the package version', async () => {
    const {version} = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
    const r = await runPolar(['--version'], {home})
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout.toString(), new RegExp(`^polar/${version.replace(/\./g, '\\.')} `))
  })
})
