// `npm run build` while polar is in use from the same tree (issue 19): the
// build used to start with `rm -rf dist`, so every call during the build
// (the type check alone takes seconds) failed with ERR_MODULE_NOT_FOUND. It
// now builds aside and moves the files in (scripts/bundle.js). Run on a copy
// of the tree, so that the suite's own CLI is not rebuilt under it.
import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import {copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync} from 'node:fs'
import {join} from 'node:path'
import {after, describe, it} from 'node:test'
import {ROOT, tmpHome} from '../helpers.js'

describe('npm run build', {timeout: 300_000}, () => {
  const {home: tree, cleanup} = tmpHome('polar-build-')
  after(cleanup)

  it('never leaves a polar in use from the tree without its files', async () => {
    for (const d of ['src', 'scripts', 'bin']) cpSync(join(ROOT, d), join(tree, d), {recursive: true})
    for (const f of ['package.json', 'tsconfig.json', 'oclif.manifest.json']) copyFileSync(join(ROOT, f), join(tree, f))
    symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'), 'dir')
    // A first build, without the type check.
    for (const script of ['scripts/bundle.js', 'scripts/manifest.js']) {
      const r = spawnSync(process.execPath, [script], {cwd: tree, encoding: 'utf8'})
      assert.equal(r.status, 0, r.stderr)
    }
    const home = join(tree, 'home')
    mkdirSync(home)
    const env = {...process.env, POLAR_HOME: home, POLAR_NODE: '', NO_COLOR: '1'}
    const cli = join(tree, 'bin', 'run.js')
    const pushed = spawnSync(process.execPath, [cli, 'push', '-', '-q'], {cwd: tree, env, input: 'hello build', encoding: 'utf8'})
    assert.equal(pushed.status, 0, pushed.stderr)
    const cid = pushed.stdout.trim()

    const build = spawn('npm', ['run', 'build'], {cwd: tree, stdio: ['ignore', 'pipe', 'pipe']})
    let buildLog = ''
    build.stdout.on('data', (d) => (buildLog += d))
    build.stderr.on('data', (d) => (buildLog += d))
    const built = new Promise<number | null>((resolve) => build.on('close', resolve))
    let done = false
    void built.then(() => (done = true))

    const call = (args: string[]) => new Promise<{code: number | null; out: string; err: string}>((resolve) => {
      const c = spawn(process.execPath, [cli, ...args], {cwd: tree, env, stdio: ['ignore', 'pipe', 'pipe']})
      let out = ''
      let err = ''
      c.stdout.on('data', (d) => (out += d))
      c.stderr.on('data', (d) => (err += d))
      c.on('close', (code) => resolve({code, out, err}))
    })
    const {name} = JSON.parse(readFileSync(join(tree, 'package.json'), 'utf8'))
    const failures: string[] = []
    let calls = 0
    while (!done) {
      const v = await call(['--version'])
      const p = await call(['pull', cid])
      calls += 2
      if (v.code !== 0 || !v.out.startsWith(`${name}/`)) failures.push(`--version: exit ${v.code}: ${v.out.trim()} ${v.err.split('\n')[0]}`)
      if (p.code !== 0 || p.out !== 'hello build') failures.push(`pull: exit ${p.code}: ${p.err.split('\n')[0]}`)
    }
    assert.equal(await built, 0, buildLog)
    assert.ok(calls >= 4, `only ${calls} calls ran during the build`)
    assert.deepEqual(failures, [], `${failures.length} of ${calls} calls failed during the build`)
    assert.ok(existsSync(join(tree, 'dist', 'index.js')))
    assert.deepEqual(readdirSync(tree).filter((f) => f.startsWith('.dist-stage')), [], 'no stage left behind')
  })
})
