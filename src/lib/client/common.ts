/**
 * What the three clients share: this home's keys, the refusals of operations
 * a target cannot do, and the shape of a peer row. Kept free of heavy imports
 * (the identity module loads only when a key is needed).
 */
import {InputError} from '../errors.js'
import type {Identity} from '../identity/index.js'
import type {PeerRow} from './index.js'

/**
 * The identity `name` from `home`'s keys: `create` makes a missing one
 * (`default` only; any other missing name is NOT_FOUND, exit 3), as push and
 * the trust commands do; erase only loads.
 */
export async function loadKey(home: string, name: string, create: boolean): Promise<Identity> {
  const {KeyStore} = await import('../identity/index.js')
  const keys = new KeyStore(home)
  return create ? keys.loadOrCreate(name) : keys.load(name)
}

/** The did of the home's `default` identity, if it has one (search ranks by its trust). */
export async function defaultDid(home: string): Promise<string | undefined> {
  const {KeyStore} = await import('../identity/index.js')
  return new KeyStore(home).didOf()
}

/** The commands only a running node can do, and what each says when there is none (docs/cli.md). */
const NEEDS_NODE = {
  'peers add': '`polar peers add` needs a running node on this home (start one with `polar serve`), or --node SOCKET',
  'peers rm': '`polar peers rm` needs a running node on this home (start one with `polar serve`), or --node SOCKET',
  'peers ping': '`polar peers ping` needs a running node on this home (start one with `polar serve`), or --node SOCKET',
  'nat-test': '`polar nat-test` tests the address a running node announces: start one on this home with `polar serve` (or name its socket with --node)',
} as const

/** The refusal of an operation that needs this home's node (or one named by its socket): exit 2. */
export function needsNode(command: keyof typeof NEEDS_NODE): InputError {
  return new InputError(NEEDS_NODE[command])
}

/** A row of `polar peers` from whatever a target lists (a remote node gives no round-trip time). */
export function peerRow(p: {did: string; url: string; services: string; lastSeen: number; rttMs?: number | null; state: string}): PeerRow {
  return {did: p.did, url: p.url, services: p.services, lastSeen: p.lastSeen, rttMs: p.rttMs ?? null, state: p.state}
}

/**
 * nat-test's targets (docs/cli.md): the node under test is this home's (or
 * the one whose socket `node` names); a `node` URL cannot be tested from
 * here, so it joins `via` as a peer to do the dialing. Every peer URL is
 * checked (BAD_INPUT) and reduced to its origin, as --node is.
 */
export async function natTestTargets(node: string | undefined, via: string[]): Promise<{node: string | undefined; via: string[]}> {
  const {httpUrl} = await import('../net/address.js')
  const peers = [...via]
  let socket = node
  if (node && httpUrl(node)) {
    peers.push(node)
    socket = undefined
  }
  return {
    node: socket,
    via: peers.map((v) => {
      const u = httpUrl(v)
      if (!u) throw new InputError(`--via must be a peer URL like http://host:port, got ${JSON.stringify(v)}`)
      return u.origin
    }),
  }
}
