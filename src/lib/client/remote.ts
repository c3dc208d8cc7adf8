import {InputError, NetworkError, NotFoundError, PolarError} from '../errors.js'
import {httpUrl} from '../net/address.js'
import {PeerClient} from '../net/peer/index.js'
import type {CallOptions, ClientInit, ClientPullInput, ClientPushInput, ClientSearchInput, EraseResult, NatReport, PeerRow, PolarClient, PullResult, PushResult, ScoreResult, SearchReport, SeedReport, TargetNotes, TrustChange, TrustChangeResult, TrustEntry} from './index.js'
import {defaultDid, loadKey, needsNode, peerRow} from './common.js'
import type {TrustPort} from './trust.js'

/** Blocks in flight when pulling from a remote node. */
const REMOTE_PREFETCH = 8
/** How long a trust call on a remote node may take. */
const TRUST_TIMEOUT_MS = 15_000
/** How long each step of a remote erase may take (reading the records; each erase). */
const ERASE_LOOKUP_TIMEOUT_MS = 15_000
const ERASE_TIMEOUT_MS = 30_000

/** --node as a URL, or BAD_INPUT. */
export function assertUrl(node: string): URL {
  const u = httpUrl(node)
  if (u) return u
  throw new InputError(`--node must be an http(s) URL or the path of a node's socket, got ${JSON.stringify(node)}`)
}

/**
 * A remote node (`--node URL`) through its public API, with no node of our
 * own: blocks and records come over HTTP and are verified here, records are
 * signed here with this home's keys (a key never leaves it), and nothing is
 * stored locally. What only a node's operator may do (its peer table,
 * nat-test) is refused. Every call opens its own PeerClient and destroys it.
 */
export class RemoteNodeClient implements PolarClient {
  readonly url: string
  readonly notes: TargetNotes
  private readonly home: string

  constructor(node: string, init: ClientInit) {
    this.url = assertUrl(node).origin
    this.home = init.home
    this.notes = {source: this.url, pushed: '', erased: '', seeded: 'with --node URL nothing is registered here: the records were fetched and checked only'}
  }

  private async withPeer<T>(connections: number, fn: (c: PeerClient) => Promise<T>): Promise<T> {
    const c = new PeerClient(this.url, {connections})
    try {
      return await fn(c)
    } finally {
      await c.destroy()
    }
  }

  /** The node admits the write (owner, trust, or a proof-of-work stamp minted here) and rebuilds the bytes (client/remote-push.ts). */
  async push(input: ClientPushInput): Promise<PushResult> {
    input.signal?.throwIfAborted()
    // The remote node picks no base for a stranger's upload: say so rather than push whole in silence.
    if (input.base !== undefined) throw new InputError('--base works through a local node or on the embedded store, not with --node URL')
    const identity = await loadKey(this.home, input.key, true)
    const {remotePush} = await import('./remote-push.js')
    const result = await remotePush(this.url, identity, {file: input.file, name: input.name, tags: input.tags, mime: input.mime, replicas: input.replicas, maxStampBits: input.maxStampBits, signal: input.signal})
    if (input.minReplicas > result.replicas) {
      throw new NetworkError(`only ${result.replicas} node(s) hold ${result.cid}, fewer than --min-replicas ${input.minReplicas}; ${this.url} keeps placing it`, {code: 'TOO_FEW_REPLICAS'})
    }
    return result
  }

  async pull(input: ClientPullInput): Promise<PullResult> {
    input.signal?.throwIfAborted()
    return remotePull(this.url, {cid: input.cid, output: input.output, stdout: input.stdout, force: input.force, signal: input.signal})
  }

  /** Reads the object records for a root from the node, signs the erase here and sends it; the node applies it and gossips it on. */
  async erase(input: {cid: string; key: string} & CallOptions): Promise<EraseResult> {
    input.signal?.throwIfAborted()
    const identity = await loadKey(this.home, input.key, false)
    const [{parseCid}, {DAG_CBOR_CODE}, {recordsFromAnswer, signErasures}] = await Promise.all([import('../content/cid.js'), import('../content/constants.js'), import('../erase/erasures.js')])
    const cid = parseCid(input.cid)
    if (cid.code === DAG_CBOR_CODE) throw new InputError('with --node, name the object by its root CID (the remote node looks records up by root)')
    const signal = input.signal
    try {
      return await this.withPeer(1, async (client) => {
        const hello = await client.hello({timeoutMs: ERASE_LOOKUP_TIMEOUT_MS, signal})
        const records = recordsFromAnswer(await client.objects.records(cid, {timeoutMs: ERASE_LOOKUP_TIMEOUT_MS, signal}), cid)
        if (records.length === 0) throw new NotFoundError(`${this.url} holds no object record with root ${cid}; check the CID`)
        const signed = signErasures(records, identity)
        let blocks = 0
        for (const v of signed) blocks += (await client.erase.send(v.erase.bytes, v.object.bytes, {timeoutMs: ERASE_TIMEOUT_MS, signal})).blocks
        return {cid: input.cid, erased: true, records: signed.map((v) => v.object.cid.toString()), nodes: [hello.did], blocks}
      })
    } catch (err) {
      if (err instanceof PolarError || signal?.aborted) throw err
      throw new NetworkError(`${this.url}: ${(err as Error).message}`, {cause: err})
    }
  }

  async search(input: ClientSearchInput): Promise<SearchReport> {
    input.signal?.throwIfAborted()
    const self = await defaultDid(this.home)
    const {searchRemote} = await import('./search.js')
    return searchRemote(this.url, input, self)
  }

  private trustPort(signal?: AbortSignal): TrustPort {
    return {
      record: (owner) => this.withPeer(1, (c) => c.trust.record(owner, {timeoutMs: TRUST_TIMEOUT_MS, signal})),
      publish: async (bytes) => (await this.withPeer(1, (c) => c.trust.put(bytes, {timeoutMs: TRUST_TIMEOUT_MS, signal}))).stored,
      score: (self, did) => this.withPeer(1, (c) => c.trust.score(did, self, {timeoutMs: TRUST_TIMEOUT_MS, signal})),
    }
  }

  async listTrust(key: string, options: CallOptions = {}): Promise<{owner: string; trusts: TrustEntry[]}> {
    options.signal?.throwIfAborted()
    const identity = await loadKey(this.home, key, true)
    const {listTrust} = await import('./trust.js')
    return {owner: identity.did, trusts: await listTrust(this.trustPort(options.signal), identity.did)}
  }

  async changeTrust(key: string, change: TrustChange, options: CallOptions = {}): Promise<TrustChangeResult> {
    options.signal?.throwIfAborted()
    const identity = await loadKey(this.home, key, true)
    const {changeTrust} = await import('./trust.js')
    return changeTrust(this.trustPort(options.signal), identity, change)
  }

  async scoreTrust(key: string, did: string, options: CallOptions = {}): Promise<ScoreResult> {
    options.signal?.throwIfAborted()
    const identity = await loadKey(this.home, key, true)
    const {scoreTrust} = await import('./trust.js')
    return scoreTrust(this.trustPort(options.signal), identity.did, did)
  }

  /** Fetches and verifies what the seeds offer; nothing is registered (no node of ours to register). */
  async seed(urls: string[], options: CallOptions = {}): Promise<SeedReport> {
    options.signal?.throwIfAborted()
    const [{loadSettings}, {probeSeeds}] = await Promise.all([import('../settings.js'), import('./seed.js')])
    return probeSeeds(urls, (await loadSettings(this.home)).stampBits)
  }

  /** The node's peer list (GET /v1/peers gives no round-trip times). */
  async listPeers(options: CallOptions = {}): Promise<PeerRow[]> {
    options.signal?.throwIfAborted()
    const {peers} = await this.withPeer(1, (c) => c.discovery.peers({signal: options.signal}))
    return (peers as Array<Parameters<typeof peerRow>[0]>).map((p) => peerRow({...p, rttMs: null}))
  }

  async addPeer(): Promise<never> {
    throw needsNode('peers add')
  }

  async removePeer(): Promise<never> {
    throw needsNode('peers rm')
  }

  async pingPeer(): Promise<never> {
    throw needsNode('peers ping')
  }

  /** A remote node cannot be tested from here (nat-test takes its URL as the peer to ask instead). */
  async natTest(): Promise<never> {
    throw needsNode('nat-test')
  }

  async close(): Promise<void> {}
}

/**
 * Pulls from a remote node's public API with no local node: blocks come over
 * HTTP and every one is verified here, so the remote need not be trusted.
 */
export async function remotePull(nodeUrl: string, input: {cid: string; output?: string; stdout?: ClientPullInput['stdout']; force?: boolean; signal?: AbortSignal}): Promise<PullResult> {
  const [{parseCid, assertSupportedCid}, {readFile}, {writeChunks}] = await Promise.all([import('../content/cid.js'), import('../content/reader.js'), import('../util/output.js')])
  const root = parseCid(input.cid)
  assertSupportedCid(root)
  const client = new PeerClient(nodeUrl, {connections: REMOTE_PREFETCH})
  try {
    return await writeChunks(root.toString(), readFile(root, {get: (cid, o) => client.blocks.get(cid, o), verifiesBlocks: true}, {prefetch: REMOTE_PREFETCH, signal: input.signal}), input)
  } finally {
    await client.destroy()
  }
}
