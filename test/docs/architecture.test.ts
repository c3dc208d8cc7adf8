// docs/architecture.md's "Layout" section names every folder and top-level
// file of src/lib, and nothing else (issue 14 point 8: the old layout lacked
// codec/, erase/, search/ and trust/ while naming folders as they once were).
// The section's fenced block has one line per entry, starting `name/` for a
// folder or `name.ts` for a file.
import assert from 'node:assert/strict'
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, it} from 'node:test'
import {ROOT} from '../helpers.js'

/** The entries of the first fenced block under `## Layout`. */
export function layoutEntries(doc: string): string[] {
  const at = doc.indexOf('\n## Layout\n')
  assert.ok(at >= 0, 'docs/architecture.md has no "## Layout" section')
  const section = doc.slice(at + 1).split(/\n## /)[0]
  const m = /```[a-z]*\n([\s\S]*?)```/.exec(section)
  assert.ok(m, 'no fenced block in the Layout section')
  return m[1].split('\n').filter((l) => l.trim()).map((l) => l.split(/\s+/)[0])
}

function libEntries(): string[] {
  return readdirSync(join(ROOT, 'src', 'lib'), {withFileTypes: true})
    .filter((e) => e.isDirectory() || e.name.endsWith('.ts'))
    .map((e) => (e.isDirectory() ? `${e.name}/` : e.name))
    .sort()
}

describe('docs/architecture.md layout', () => {
  const named = layoutEntries(readFileSync(join(ROOT, 'docs', 'architecture.md'), 'utf8'))
  const actual = libEntries()

  it('names every folder and top-level file of src/lib', () => {
    const missing = actual.filter((e) => !named.includes(e))
    assert.deepEqual(missing, [], `missing from the Layout section: ${missing.join(', ')}`)
  })

  it('names nothing that src/lib does not have', () => {
    const extra = named.filter((e) => !actual.includes(e))
    assert.deepEqual(extra, [], `named in the Layout section but not in src/lib: ${extra.join(', ')}`)
  })

  it('names each entry once', () => {
    assert.equal(new Set(named).size, named.length)
  })
})
