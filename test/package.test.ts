// What `npm install` / `npm ci` of this package promises (issue 19): a name of
// its own on the npm registry (the name "polar" belongs to an unrelated
// package, which `npx polar` outside the clone fetched), the `polar` command,
// and every dependency, dev ones included, installable on the Node that
// package.json's engines and the README promise, with no EBADENGINE (p-retry 8,
// through @helia/block-brokers -> libp2p, asked for Node 22).
import assert from 'node:assert/strict'
import {lstatSync, readdirSync, readFileSync, readlinkSync} from 'node:fs'
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

  // issue 14, point 6: the gateway test imported @libp2p/logger and
  // @multiformats/multiaddr, which only a dev dependency's own dependencies
  // brought in; a change to those would have broken the suite.
  it('declares every package the code imports: src/ and bin/ in dependencies, the rest in either', () => {
    const deps = new Set(Object.keys(pkg.dependencies))
    const all = new Set([...deps, ...Object.keys(pkg.devDependencies)])
    const specifier = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm
    const undeclared: string[] = []
    const scan = (dir: string, top: string): void => {
      for (const entry of readdirSync(join(ROOT, dir), {withFileTypes: true})) {
        const path = join(dir, entry.name)
        if (entry.isDirectory()) scan(path, top)
        else if (/\.(ts|tsx|js|mjs)$/.test(entry.name)) {
          for (const m of readFileSync(join(ROOT, path), 'utf8').matchAll(specifier)) {
            const spec = m[1] ?? m[2] ?? m[3]
            if (/^(\.|\/|node:)/.test(spec)) continue
            const name = spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/')
            if (!(top === 'src' || top === 'bin' ? deps : all).has(name)) undeclared.push(`${path}: ${spec}`)
          }
        }
      }
    }
    for (const top of ['src', 'bin', 'test', 'scripts', 'bench', 'chaos']) scan(top, top)
    assert.deepEqual(undeclared, [])
  })

  it('the README promises the same Node', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    assert.match(readme, /Needs Node 20\.19\+/)
  })
})
