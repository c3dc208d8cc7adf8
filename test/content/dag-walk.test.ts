// The one DAG walk (src/lib/content/dag-walk.ts, dag-links.ts; issue 14,
// point 3): the reader, the gateway's CARs, versions, the erase sweep, the
// holding check and repair all walk through it, so its order, depth limit,
// prefetch window and stop rules are checked here on hand-made DAGs.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import * as dagPb from '@ipld/dag-pb'
import {CID} from 'multiformats/cid'
import {cidOf} from '../../src/lib/content/cid.js'
import {DAG_PB_CODE, RAW_CODE} from '../../src/lib/content/constants.js'
import {holdsWholeDag, walkHeld} from '../../src/lib/content/dag-links.js'
import {walkAsync, walkSync, type DagLink} from '../../src/lib/content/dag-walk.js'
import {IntegrityError} from '../../src/lib/errors.js'

/** An in-memory block map with dag-pb nodes over raw leaves. */
class Blocks {
  readonly map = new Map<string, Uint8Array>()
  leaf(text: string): CID {
    const bytes = new TextEncoder().encode(text)
    const cid = cidOf(RAW_CODE, bytes)
    this.map.set(cid.toString(), bytes)
    return cid
  }
  node(links: CID[]): CID {
    const bytes = dagPb.encode(dagPb.prepare({Links: links.map((Hash) => ({Hash, Name: '', Tsize: 0}))}))
    const cid = cidOf(DAG_PB_CODE, bytes)
    this.map.set(cid.toString(), bytes)
    return cid
  }
  has(cid: CID): boolean {
    return this.map.has(cid.toString())
  }
  get(cid: CID): Uint8Array {
    const b = this.map.get(cid.toString())
    if (!b) throw new Error(`missing ${cid}`)
    return b
  }
  links(cid: CID): DagLink[] {
    return cid.code === DAG_PB_CODE ? dagPb.decode(this.get(cid)).Links.map((l) => ({cid: l.Hash})) : []
  }
  text(cid: CID): string {
    return new TextDecoder().decode(this.get(cid))
  }
}

/** root -> [a -> [a1, a2], b, c -> [c1]]: leaves in order a1 a2 b c1. */
function tree() {
  const blocks = new Blocks()
  const [a1, a2, b, c1] = ['a1', 'a2', 'b', 'c1'].map((t) => blocks.leaf(t))
  const a = blocks.node([a1, a2])
  const c = blocks.node([c1])
  const root = blocks.node([a, b, c])
  return {blocks, root, a, c}
}

/** A chain of `levels` dag-pb nodes above one leaf. */
function chain(blocks: Blocks, levels: number): CID {
  let cid = blocks.leaf('bottom')
  for (let i = 0; i < levels; i++) cid = blocks.node([cid])
  return cid
}

describe('dag walk', () => {
  it('walks depth first, each block once per link, links in the order the block lists them', () => {
    const {blocks, root} = tree()
    const leaves: string[] = []
    const depths: number[] = []
    walkSync({cid: root}, {maxDepth: 8}, ({cid, depth}) => {
      depths.push(depth)
      if (cid.code === RAW_CODE) leaves.push(blocks.text(cid))
      return blocks.links(cid)
    })
    assert.deepEqual(leaves, ['a1', 'a2', 'b', 'c1'])
    assert.deepEqual(depths, [0, 1, 2, 2, 1, 1, 2])
  })

  it('refuses links past the depth limit (IntegrityError), or prunes them when asked', () => {
    const blocks = new Blocks()
    const root = chain(blocks, 5) // the leaf sits 5 links below the root
    const visit = ({cid}: {cid: CID}) => blocks.links(cid)
    assert.equal(walkSync({cid: root}, {maxDepth: 5}, visit), true)
    assert.throws(() => walkSync({cid: root}, {maxDepth: 4}, visit), IntegrityError)
    let deepest = 0
    walkSync({cid: root}, {maxDepth: 3, tooDeep: 'prune'}, ({cid, depth}) => {
      deepest = Math.max(deepest, depth)
      return blocks.links(cid)
    })
    assert.equal(deepest, 3)
  })

  it('stops when visit returns false', () => {
    const {blocks, root} = tree()
    let visited = 0
    const done = walkSync({cid: root}, {maxDepth: 8}, ({cid}) => {
      visited++
      return cid.code === RAW_CODE ? false : blocks.links(cid)
    })
    assert.equal(done, false)
    assert.equal(visited, 3) // root, a, a1
  })

  it('walkAsync yields in walk order while keeping at most `prefetch` siblings loading, and skips without loading', async () => {
    const blocks = new Blocks()
    const leaves = Array.from({length: 10}, (_, i) => blocks.leaf(`leaf ${i}`))
    const root = blocks.node(leaves)
    let inFlight = 0
    let most = 0
    const loaded: string[] = []
    const load = async (cid: CID) => {
      inFlight++
      most = Math.max(most, inFlight)
      loaded.push(cid.toString())
      // Later siblings answer first: order must still come from the walk.
      await new Promise((r) => setImmediate(r))
      inFlight--
      return blocks.get(cid)
    }
    const skipped = leaves[7].toString()
    const out: string[] = []
    for await (const text of walkAsync<undefined, string>({cid: root}, {
      maxDepth: 8,
      prefetch: 3,
      load,
      skip: (frame) => frame.cid.toString() === skipped,
      visit: (frame, bytes) => (frame.cid.code === RAW_CODE ? {out: new TextDecoder().decode(bytes)} : {links: blocks.links(frame.cid)}),
    })) out.push(text)
    assert.deepEqual(out, leaves.map((_, i) => `leaf ${i}`).filter((_, i) => i !== 7))
    assert.ok(most <= 3, `at most 3 loads at once, saw ${most}`)
    assert.ok(most >= 2, 'the window really loads ahead')
    // A skipped block's prefetched load is dropped, never yielded; every other block loads once.
    assert.equal(new Set(loaded).size, loaded.length)
  })

  it('walkHeld passes over missing blocks and never descends through one it cannot decode', () => {
    const {blocks, root, a, c} = tree()
    const beneathA = blocks.links(a).map((l) => l.cid.toString())
    blocks.map.set(a.toString(), new Uint8Array([0xff, 0x00])) // not dag-pb: a's links cannot be trusted
    blocks.map.delete(c.toString())
    const seen: string[] = []
    walkHeld(blocks, root, new Set(), (_cid, key) => {
      seen.push(key)
      return true
    })
    assert.ok(seen.includes(a.toString()))
    assert.ok(!seen.includes(c.toString()))
    for (const k of beneathA) assert.ok(!seen.includes(k))
    assert.equal(seen.length, 3) // root, a, b
  })

  it('holdsWholeDag is false for a missing block or an undecodable node, true for a whole DAG', () => {
    const whole = tree()
    assert.equal(holdsWholeDag(whole.blocks, whole.root), true)
    const missing = tree()
    missing.blocks.map.delete(missing.blocks.links(missing.c)[0].cid.toString())
    assert.equal(holdsWholeDag(missing.blocks, missing.root), false)
    const broken = tree()
    broken.blocks.map.set(broken.a.toString(), new Uint8Array([0xff]))
    assert.equal(holdsWholeDag(broken.blocks, broken.root), false)
  })
})
