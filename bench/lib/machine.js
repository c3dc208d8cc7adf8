// What the figures were measured on.
import {execFileSync} from 'node:child_process'
import {cpus, loadavg, release, tmpdir, totalmem, type} from 'node:os'
import {readFileSync} from 'node:fs'
import {repoRoot} from './proc.js'

const sh = (cmd, args) => {
  try { return execFileSync(cmd, args, {cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']}).trim() } catch { return null }
}

export function machine() {
  const c = cpus()
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
  const commit = sh('git', ['rev-parse', '--short', 'HEAD'])
  const dirty = sh('git', ['status', '--porcelain', '--', 'src', 'bin', 'scripts', 'package.json'])
  return {
    cpu: c[0]?.model?.trim() ?? 'unknown',
    cores: c.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30 * 10) / 10,
    node: process.version,
    os: `${type()} ${release()}`,
    tmpdir: tmpdir(),
    tmpdirFs: sh('findmnt', ['-n', '-o', 'FSTYPE', '--target', tmpdir()]) ?? sh('stat', ['-f', '-c', '%T', tmpdir()]),
    loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
    polar: `${pkg.version}${commit ? ` @ ${commit}${dirty ? ' + uncommitted changes' : ''}` : ''}`,
  }
}
