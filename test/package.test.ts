// What `npm install` / `npm ci` of this package promises (issue 19): a name of
// its own on the npm registry (the name "polar" belongs to an unrelated
// package, which `npx polar` outside the clone fetched), the `polar` command,
// and every dependency, dev ones included, installable on the Node that
// package.json's engines and the README promise, with no EBADENGINE (p-retry 8,
// through @helia/block-brokers -> libp2p, asked for Node 22).
import assert from 'node:assert/strict'
import {lstatSync, readFileSync, readlinkSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import semver from 'semver'
import {ROOT} from './helpers.js'

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'))

describe('package.json', () => {
  it('is not named "polar" (an unrelated package on the registry) and installs the command `polar`', () => {
    assert.notEqual(pkg.name, 'polar')
    assert.equal(lock.name, pkg.name, 'package-lock.json is in step')
    assert.equal(lock.packages[''].name, pkg.name)
    assert.deepEqual(Object.keys(pkg.bin), ['polar'])
    assert.equal(pkg.oclif.bin, 'polar')
    // bin/polar: what the README puts on PATH (export PATH="$PWD/bin:$PATH").
    assert.ok(lstatSync(join(ROOT, 'bin', 'polar')).isSymbolicLink())
    assert.equal(readlinkSync(join(ROOT, 'bin', 'polar')), 'run.js')
  })

  it('every package in package-lock.json supports the oldest Node in engines', () => {
    const oldest = semver.minVersion(pkg.engines.node)!.version
    assert.equal(oldest, '20.19.0')
    const refused = Object.entries(lock.packages as Record<string, {version?: string; engines?: {node?: string} | string[]}>)
      .filter(([path, p]) => path !== '' && p.engines && !Array.isArray(p.engines) && p.engines.node && !semver.satisfies(oldest, p.engines.node))
      .map(([path, p]) => `${path}@${p.version} wants node ${(p.engines as {node: string}).node}`)
    assert.deepEqual(refused, [], `npm ci on Node ${oldest} warns EBADENGINE`)
  })

  it('the README promises the same Node', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    assert.match(readme, /Needs Node 20\.19\+/)
  })
})
