import {NetworkError} from '../errors.js'
import type {Store} from '../store/store.js'
import type {CallOptions, ClientInit, ClientPullInput, ClientPushInput, ClientSearchInput, EraseResult, NatReport, PeerRow, PolarClient, PullResult, PushResult, ScoreResult, SearchReport, SeedReport, TargetNotes, TrustChange, TrustChangeResult, TrustEntry} from './index.js'
import {defaultDid, loadKey, needsNode, peerRow} from './common.js'
import type {TrustPort} from './trust.js'

export interface EmbeddedInit extends ClientInit {
  /**
   * Warn when blocks/ holds pack files the index does not know (their blocks
   * cannot be read and writes are refused until `polar repair`); repair
   * itself turns this off.
   */
  checkPacks?: boolean
}

/**
 * This home's store, opened in-process when no node runs on it ("standalone"
 * in DESIGN.md): objects are stored and read here, search asks the peers the
 * table lists, and what needs a node (peers add/rm/ping, nat-test) is
 * refused. The store opens on first use, once, and `close()` closes it; each
 * operation imports what it needs only when it runs, so a scripted pull
 * loads neither the push pipeline nor the trust or search code.
 */
export class EmbeddedClient implements PolarClient {
  readonly notes: TargetNotes
  private opened: Store | undefined

  constructor(private readonly init: EmbeddedInit) {
    this.notes = {
      source: `${init.home} (no node running)`,
      pushed: ' (this store; no node running)',
      erased: ' (this store only; no node running)',
      seeded: 'no node running on this home: nothing registered; start one with `polar serve --seed URL`',
    }
  }

  /**
   * The store, opened on first use. An erase killed part way (its sweep or
   * compaction) is finished first, so its bytes leave the disk at the next
   * open (issue 20; docs/storage.md "Erase").
   */
  async store(): Promise<Store> {
    if (!this.opened) {
      const [{openStore}, {finishEraseWork}] = await Promise.all([import('../store/store.js'), import('../erase/resume.js')])
      this.opened = openStore(this.init.home)
      const unknown = this.opened.blocks.unknownPacks()
      if (unknown.length > 0 && this.init.checkPacks !== false) {
        const {formatBytes} = await import('../store/pack-files.js')
        this.init.warn?.(`${unknown.length} pack file(s) in ${this.init.home}/blocks (${formatBytes(unknown.reduce((n, p) => n + p.bytes, 0))}) are not in the index polar.db (lost or replaced?): their blocks cannot be read, and writes are refused until \`polar repair\` indexes them again`)
      }
      await finishEraseWork(this.opened)
    }
    return this.opened
  }

  /** One replica: this store. */
  async push(input: ClientPushInput): Promise<PushResult> {
    input.signal?.throwIfAborted()
    const identity = await loadKey(this.init.home, input.key, true)
    const store = await this.store()
    const {pushObject} = await import('../objects/index.js')
    const result = await pushObject(store, identity, {file: input.file, name: input.name, tags: input.tags, mime: input.mime, base: input.base, signal: input.signal, onProgress: input.onProgress})
    if (input.minReplicas > result.replicas) {
      throw new NetworkError(`${result.cid} is stored in this home only (1 replica), fewer than --min-replicas ${input.minReplicas}: no node is running here; start one with \`polar serve\``, {code: 'TOO_FEW_REPLICAS'})
    }
    return result
  }

  async pull(input: ClientPullInput): Promise<PullResult> {
    input.signal?.throwIfAborted()
    const {pullObject} = await import('../objects/index.js')
    return pullObject(await this.store(), {cid: input.cid, output: input.output, stdout: input.stdout, force: input.force, signal: input.signal, onProgress: input.onProgress})
  }

  /** Erases in this store only (no peers to tell), then compacts what the sweep left owed. */
  async erase(input: {cid: string; key: string} & CallOptions): Promise<EraseResult> {
    input.signal?.throwIfAborted()
    const identity = await loadKey(this.init.home, input.key, false)
    const {eraseEmbedded} = await import('../erase/index.js')
    return eraseEmbedded(await this.store(), identity, input.cid)
  }

  /** This store's index, then the live peers of its table. */
  async search(input: ClientSearchInput): Promise<SearchReport> {
    input.signal?.throwIfAborted()
    const store = await this.store()
    const self = await defaultDid(this.init.home)
    const {searchEmbedded} = await import('./search.js')
    return searchEmbedded(store, input, self)
  }

  private async trustPort(): Promise<TrustPort> {
    const store = await this.store()
    const {TrustStore} = await import('../trust/store.js')
    const trust = new TrustStore(store.db)
    return {
      record: async (owner) => {
        const b = trust.bytesOf(owner)
        return b ? Buffer.from(b).toString('base64') : null
      },
      publish: async (bytes) => trust.put(bytes).stored,
      score: async (self, did) => trust.score(self, did),
    }
  }

  async listTrust(key: string, options: CallOptions = {}): Promise<{owner: string; trusts: TrustEntry[]}> {
    options.signal?.throwIfAborted()
    const identity = await loadKey(this.init.home, key, true)
    const port = await this.trustPort()
    const {listTrust} = await import('./trust.js')
    return {owner: identity.did, trusts: await listTrust(port, identity.did)}
  }

  async changeTrust(key: string, change: TrustChange, options: CallOptions = {}): Promise<TrustChangeResult> {
    options.signal?.throwIfAborted()
    const identity = await loadKey(this.init.home, key, true)
    const port = await this.trustPort()
    const {changeTrust} = await import('./trust.js')
    return changeTrust(port, identity, change)
  }

  async scoreTrust(key: string, did: string, options: CallOptions = {}): Promise<ScoreResult> {
    options.signal?.throwIfAborted()
    const identity = await loadKey(this.init.home, key, true)
    const port = await this.trustPort()
    const {scoreTrust} = await import('./trust.js')
    return scoreTrust(port, identity.did, did)
  }

  /** Fetches and verifies what the seeds offer, as a node would; nothing is stored or registered. */
  async seed(urls: string[], options: CallOptions = {}): Promise<SeedReport> {
    options.signal?.throwIfAborted()
    const [{loadSettings}, {probeSeeds}] = await Promise.all([import('../settings.js'), import('./seed.js')])
    return probeSeeds(urls, (await loadSettings(this.init.home)).stampBits)
  }

  /** The peer table as the last node on this home left it. */
  async listPeers(options: CallOptions = {}): Promise<PeerRow[]> {
    options.signal?.throwIfAborted()
    const store = await this.store()
    const {PeerTable} = await import('../node/peer-table.js')
    return new PeerTable(store.db, '').list().map(peerRow)
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

  async natTest(): Promise<never> {
    throw needsNode('nat-test')
  }

  async close(): Promise<void> {
    this.opened?.close()
    this.opened = undefined
  }
}
