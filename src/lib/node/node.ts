import {NETWORK_WRITER} from '../store/block-store.js'
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import {chmodSync, unlinkSync} from 'node:fs'
import {join} from 'node:path'
import {InputError, PolarError, toPolarError} from '../errors.js'
import {ensureHome} from '../home.js'
import {KeyStore, type Identity} from '../identity/index.js'
import {ReplayGuard} from '../net/auth.js'
import {OutgoingGate, outgoingCounters, PeerClient} from '../net/peer/index.js'
import {requestUrl, sendError, sendJson, type Router} from '../net/http.js'
import {openStore, type Store} from '../store/store.js'
import {SOCKET_NAME, socketIsLive} from '../util/socket.js'
import {lockHome, unlockHome} from '../store/node-lock.js'

export {SOCKET_NAME, socketIsLive}
import {DEFAULT_SETTINGS, type NodeContext, type NodeSettings} from './context.js'
import {NetworkBlockSource, type Source} from './fetcher.js'
import type {CID} from 'multiformats/cid'
import {InboundLimits} from '../net/limits.js'
import {localRouter} from './local-api.js'
import {PeerTable} from './peer-table.js'
import {Discovery} from './discovery.js'
import {publicRouter, SERVICES} from './public-api.js'
import {repairOnce} from './replicator.js'
import {syncTrustOnce} from './trust-sync.js'
import {maintainErasures, resumeErasures, syncErasures} from './erase-sync.js'

export const DEFAULT_LISTEN = '0.0.0.0:7477'

export interface NodeOptions {
  home: string
  /** HOST:PORT of the public listener; port 0 picks a free one. */
  listen?: string
  /** URL peers are told to reach us at (default: http://LISTEN, with the real port). */
  announce?: string
  settings?: Partial<NodeSettings>
  log?: (message: string) => void
  /** Extra handler tried before the peer routes (the IPFS gateway); `heal` replaces a corrupt block from peers. */
  gateway?: (req: IncomingMessage, res: ServerResponse, url: URL, parts: {store: Store; heal: (cid: CID) => void}) => Promise<boolean>
}

export interface ReadyInfo {
  did: string
  url: string
  socket: string
}

export function parseListen(listen: string): {host: string; port: number} {
  const m = /^(.*):(\d{1,5})$/.exec(listen)
  const port = m ? Number(m[2]) : NaN
  if (!m || port > 65535) throw new InputError(`--listen must be HOST:PORT, got ${JSON.stringify(listen)}`)
  return {host: m[1].replace(/^\[|\]$/g, '') || '0.0.0.0', port}
}

/**
 * A polar node (the composition root): the embedded store, the node identity,
 * the public listener for peers, the local API on the unix socket, and the
 * background loops (liveness, repair).
 */
export class PolarNode {
  readonly home: string
  private store!: Store
  private identity!: Identity
  private peers!: PeerTable
  private publicServer?: Server
  private localServer?: Server
  private socketPath: string
  private readonly clients = new Map<string, PeerClient>()
  private readonly inflight = new Set<Promise<unknown>>()
  private readonly timers: NodeJS.Timeout[] = []
  private readonly loops = new AbortController()
  private stopping = false
  private ctx!: NodeContext
  private limits!: InboundLimits
  private outgoing!: OutgoingGate
  readonly settings: NodeSettings
  private readonly log: (message: string) => void

  constructor(private readonly options: NodeOptions) {
    this.home = ensureHome(options.home)
    this.socketPath = join(this.home, SOCKET_NAME)
    this.settings = {...DEFAULT_SETTINGS, ...options.settings}
    this.log = options.log ?? ((m) => process.stderr.write(`${new Date().toISOString()} ${m}\n`))
  }

  async start(): Promise<ReadyInfo> {
    if (await socketIsLive(this.socketPath)) {
      throw new PolarError(`a node is already running on ${this.home} (socket ${this.socketPath}); stop it first or use another --home`, {code: 'NODE_RUNNING'})
    }
    this.store = openStore(this.home)
    try {
      this.lock()
    } catch (err) {
      this.store.close()
      throw err
    }
    this.identity = new KeyStore(join(this.home, 'node')).loadOrCreate()
    this.peers = new PeerTable(this.store.db, this.identity.did)
    this.peers.schedule = {pingIntervalMs: this.settings.pingIntervalMs, maxBackoffMs: Math.max(this.settings.pingIntervalMs, 5 * 60_000), deadRetryMs: this.settings.deadRetryMs}
    const {host, port} = parseListen(this.options.listen ?? DEFAULT_LISTEN)

    // Public listener first: the announced URL needs the real port.
    const ctxHolder: {router?: Router} = {}
    const st = this.settings
    this.limits = new InboundLimits({
      rate: st.rate, burst: st.burst, maxConnections: st.maxConnections, maxConnectionsPerAddress: st.maxConnectionsPerAddress,
      maxRequests: st.maxRequests, maxRequestsPerAddress: st.maxRequestsPerAddress, maxQueue: st.maxQueue,
      headersTimeoutMs: st.headersTimeoutMs, keepAliveTimeoutMs: st.keepAliveTimeoutMs, bodyTimeoutMs: st.bodyTimeoutMs, answerStallMs: st.answerStallMs,
    })
    this.outgoing = new OutgoingGate(st.maxOutgoingRequests)
    this.publicServer = createServer(this.limits.serverOptions(), (req, res) => this.handle(ctxHolder.router!, req, res, true))
    this.limits.watch(this.publicServer)
    await new Promise<void>((resolve, reject) => {
      this.publicServer!.once('error', reject)
      this.publicServer!.listen(port, host, () => resolve())
    })
    const addr = this.publicServer.address()
    const realPort = typeof addr === 'object' && addr ? addr.port : port
    const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host
    const url = (this.options.announce ?? `http://${shownHost}:${realPort}`).replace(/\/+$/, '')

    const parts = {
      home: this.home,
      store: this.store,
      identity: this.identity,
      did: this.identity.did,
      peers: this.peers,
      url,
      settings: this.settings,
      guard: new ReplayGuard(),
      log: this.log,
      client: (peer: {url: string; address?: string | null}) => this.client(peer),
      sources: () => this.peers.live().map((p): Source => ({did: p.did, client: this.client(p)})),
      track: <T>(work: Promise<T>) => this.track(work),
      limits: () => ({
        ...this.limits.settings,
        peerConnections: this.settings.peerConnections,
        maxOutgoingRequests: this.settings.maxOutgoingRequests,
        inbound: this.limits.counters(),
        outgoing: {...this.outgoing.counters(), ...outgoingCounters},
      }),
    }
    // Discovery takes only what it uses, so the context is built whole after it (no cast round a cycle).
    const discovery = new Discovery(parts, SERVICES)
    this.ctx = {...parts, discovery, reping: (did) => discovery.liveness.reping(did)}
    ctxHolder.router = publicRouter(this.ctx)

    // Local API on the unix socket, created 0600 (umask) so no other user can connect even briefly.
    try {
      unlinkSync(this.socketPath) // stale: no node answered on it above
    } catch {}
    const local = localRouter(this.ctx, () => ({socket: this.socketPath}))
    this.localServer = createServer((req, res) => this.handle(local, req, res, false))
    const oldMask = process.umask(0o177)
    try {
      await new Promise<void>((resolve, reject) => {
        this.localServer!.once('error', reject)
        this.localServer!.listen(this.socketPath, () => resolve())
      })
    } finally {
      process.umask(oldMask)
    }
    chmodSync(this.socketPath, 0o600)

    // Liveness: each peer is pinged when its turn comes (PeerTable back-off), checked often.
    this.every(Math.min(this.settings.pingIntervalMs, 1_000), () => this.ctx.discovery.liveness.pingDue())
    this.every(this.settings.gossipIntervalMs, () => this.ctx.discovery.gossipRound())
    this.every(this.settings.repairIntervalMs, async () => {
      const r = await repairOnce(this.ctx, this.settings.replicas, this.loops.signal)
      if (r.repaired) this.log(`repair: ${r.repaired} of ${r.checked} object(s) re-replicated`)
    })
    // Trust records of identities within 3 hops of the owner (issue 5).
    this.every(this.settings.trustSyncIntervalMs, async () => {
      const r = await syncTrustOnce(this.ctx, this.loops.signal)
      if (r.stored) this.log(`trust sync: ${r.stored} new trust record(s)`)
    })
    // Erasures: finish the sweeps and the compaction a crash cut short (issue 20), then catch up
    // with the peers' tombstones now and on a timer (which also retries what is still open).
    const swept = resumeErasures(this.ctx, this.loops.signal)
    if (swept) this.log(`erase: finished sweeping ${swept} block(s) of erased objects`)
    this.every(this.settings.eraseSyncIntervalMs, async () => { await maintainErasures(this.ctx, this.loops.signal) })
    this.track(syncErasures(this.ctx, this.loops.signal)).catch((err) => this.log(`erasure sync: ${(err as Error).message}`))
    this.log(`node ${this.identity.did} listening on ${url}, local API on ${this.socketPath}`)
    // Discovery at start (draft 000): the seeds given, else a random known peer. In the background:
    // the node serves at once; the record stamp is minted while seeds answer.
    const seeds = [...new Set(this.settings.seeds)]
    if (seeds.length > 0) this.ctx.discovery.selfRecord().catch(() => {})
    this.track(this.ctx.discovery.bootstrap(seeds).catch((err) => { if (!this.stopping) this.log(`discovery at start: ${(err as Error).message}`) }))
    return {did: this.identity.did, url, socket: this.socketPath}
  }

  private async handle(router: Router, req: IncomingMessage, res: ServerResponse, isPublic: boolean): Promise<void> {
    try {
      if (isPublic && !this.stopping) {
        // Caps first (limits.ts): a flood is answered 429/503 before any body is read. The slot
        // is held until the answer is written (or the connection closes), not until we return.
        const admitted = this.limits.admit(req, res)
        if (!(admitted instanceof Promise ? await admitted : admitted)) return
      }
      if (this.stopping) {
        req.resume()
        sendJson(res, 503, {error: {code: 'SHUTTING_DOWN', message: 'node is shutting down'}}, {connection: 'close'})
        return
      }
      const url = requestUrl(req)
      if (isPublic && this.options.gateway && url.pathname.startsWith('/ipfs/')) {
        if (await this.options.gateway(req, res, url, {store: this.store, heal: (cid) => this.healBlock(cid)})) return
      }
      if (!(await router.dispatch(req, res, url))) {
        req.resume()
        sendJson(res, 404, {error: {code: 'NO_ROUTE', message: `no route ${url.pathname}`}})
      }
    } catch (caught) {
      // A full disk or a permission problem keeps its meaning across the socket (NO_SPACE: 507, exit 1).
      const code = (caught as NodeJS.ErrnoException)?.code
      const system = code === 'ENOSPC' || code === 'SQLITE_FULL' || code === 'EACCES'
      const err = system ? toPolarError(caught) : caught
      const expected = !system && (err instanceof PolarError || (err as any)?.name === 'HttpError')
      if (!expected) this.log(`error on ${req.method} ${req.url}: ${(caught as Error)?.stack ?? caught}`)
      req.resume()
      sendError(res, err)
    } finally {
      // A handler that returned without answering would hold its slot, and its connection's turn, for good.
      if (isPublic && !res.writableEnded && !res.destroyed && !req.socket.destroyed) {
        this.log(`no answer to ${req.method} ${req.url}; connection closed`)
        res.destroy()
      }
    }
  }

  private readonly healing = new Set<string>()

  /**
   * Replaces a block that failed verification here with a verified copy from a
   * peer, in the background (the gateway reports corrupt blocks it refused to serve).
   */
  healBlock(cid: CID): void {
    const key = cid.toString()
    if (this.healing.has(key) || this.stopping) return
    this.healing.add(key)
    const writer = this.store.blocks.writer(NETWORK_WRITER)
    const source = new NetworkBlockSource(this.store, this.ctx.sources(), writer, this.peers, this.log)
    const work = source.get(cid)
      .then(async () => {
        await writer.close()
        if (source.healed) this.log(`healed block ${cid} from a peer`)
      })
      .catch(async (err) => {
        await writer.abort()
        this.log(`could not heal block ${cid}: ${(err as Error).message}`)
      })
      .finally(() => this.healing.delete(key))
    this.track(work)
  }

  /** Claims this home for this process (node_lock), or explains who holds it. */
  private lock(): void {
    lockHome(this.store.db, this.home)
  }

  /**
   * The pooled client for a peer, kept for the node's lifetime. A peer from
   * the table is dialled at the address its admission checked (net/dial.ts),
   * never at what its name resolves to later (a name re-pointed after
   * admission); a new address gets a new client.
   */
  private client(peer: {url: string; address?: string | null}): PeerClient {
    const address = peer.address ?? undefined
    const key = `${peer.url} ${address ?? ''}`
    let c = this.clients.get(key)
    if (!c) {
      c = new PeerClient(peer.url, {identity: this.identity, connections: this.settings.peerConnections, gate: this.outgoing, address})
      this.clients.set(key, c)
    }
    return c
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inflight.add(work)
    const done = () => this.inflight.delete(work)
    work.then(done, done)
    return work
  }

  private every(ms: number, fn: () => Promise<void>): void {
    let running = false
    const t = setInterval(() => {
      if (running || this.stopping) return
      running = true
      fn().catch((err) => { if (!this.stopping) this.log(`background: ${(err as Error).message}`) }).finally(() => { running = false })
    }, ms)
    t.unref()
    this.timers.push(t)
  }

  /** Stop accepting, finish in-flight writes, close the database and the socket. */
  async stop(): Promise<void> {
    if (this.stopping) return
    this.stopping = true
    for (const t of this.timers) clearInterval(t)
    this.loops.abort()
    this.ctx?.discovery?.stop()
    const closing = [this.publicServer, this.localServer].map((s) => new Promise<void>((r) => (s ? s.close(() => r()) : r())))
    await Promise.allSettled([...this.inflight])
    this.publicServer?.closeIdleConnections()
    this.localServer?.closeIdleConnections()
    await Promise.race([Promise.all(closing), new Promise((r) => setTimeout(r, 2_000).unref())])
    this.publicServer?.closeAllConnections()
    this.localServer?.closeAllConnections()
    await Promise.allSettled([...this.clients.values()].map((c) => c.destroy()))
    try {
      unlinkSync(this.socketPath)
    } catch {}
    try {
      if (this.store) unlockHome(this.store.db)
    } catch {}
    this.store?.close()
    this.log('node stopped')
  }
}
