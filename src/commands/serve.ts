import {Flags} from '@oclif/core'
import {PolarCommand} from '../lib/cli/base-command.js'

export default class Serve extends PolarCommand {
  static override summary = 'Run a node until SIGINT/SIGTERM.'
  static override description = `Starts a polar node on this home: a public HTTP/1.1 listener for peers (the /v1/ peer protocol and the IPFS trustless gateway at /ipfs/{cid}), the local API on POLAR_HOME/polar.sock (mode 0600), and background loops (liveness pings, replica repair). A node identity is created on first start. Other polar commands on this home go through the node while it runs.

With --json the first stdout line is {"event":"ready","did","url","socket"}; logs go to stderr. SIGINT or SIGTERM stops accepting, finishes in-flight writes, closes the database and exits 0. Caps: each remote address gets --rate requests per second with a --burst (default twice the rate; over it: 429 with Retry-After); past --max-connections open connections or --max-requests busy requests plus a full queue the node answers 503 with Retry-After, and serves normally again when the load goes. One address may hold a quarter of the connections and of the requests in hand, one /24 (IPv6 /48) half, and the last quarter is kept for addresses holding fewer than 16; request heads must arrive within 10 s, bodies at 1 KiB/s or more, and an answer the client does not read is cut off after 30 s (settings.json: headersTimeoutMs, bodyTimeoutMs, answerStallMs).

Settings (replicas, minReplicas, repairIntervalMs, pingIntervalMs, eraseSyncIntervalMs, rate, burst, maxConnections, maxConnectionsPerAddress, maxRequests, maxRequestsPerAddress, maxQueue, headersTimeoutMs, keepAliveTimeoutMs, bodyTimeoutMs, answerStallMs, peerConnections, maxOutgoingRequests, seeds, stampBits and the other discovery settings of docs/operations.md) can also live in POLAR_HOME/settings.json; flags win.

Storage cap: with --max-storage SIZE (or maxStorageBytes in settings.json) a push, replication or pull through the node that would take the node's packs past SIZE is refused with NO_SPACE, the error of a full disk: a file pushed through the node and an object a peer asks it to hold are refused before a byte is written (a pusher then places the replica on another node), a stream at the block that would pass the cap. Dead bytes count until \`polar gc\` gives them back.

Discovery: with --seed URL (repeatable) or "seeds" in settings.json the node asks those nodes for the peers they know and registers with each; with neither and peers already in its database, it asks a random known peer.`

  static override examples = [
    '<%= config.bin %> serve',
    '<%= config.bin %> serve --listen 127.0.0.1:0 --json',
    '<%= config.bin %> serve --listen 0.0.0.0:7477 --announce http://node.example.org:7477 --replicas 5',
    '<%= config.bin %> serve --rate 50 --burst 100 --max-connections 256',
    '<%= config.bin %> serve --listen 127.0.0.1:0 --seed http://127.0.0.1:7477 --json',
    '<%= config.bin %> serve --max-storage 10G   # refuse writes past 10 GiB of packs (polar gc frees dead ones)',
  ]

  static override flags = {
    listen: Flags.string({description: 'HOST:PORT of the public listener (port 0 picks a free one)', default: '0.0.0.0:7477'}),
    announce: Flags.string({description: 'URL peers are told to reach this node at [default: http://LISTEN]'}),
    replicas: Flags.integer({description: 'nodes each object is placed on [default: 3]', min: 1, max: 64}),
    'repair-interval': Flags.integer({description: 'seconds between repair passes [default: 30]', min: 1}),
    'ping-interval': Flags.integer({description: 'seconds between liveness pings [default: 10]', min: 1}),
    rate: Flags.integer({description: 'requests per second each remote address may make; over it: 429 with Retry-After [default: 1000]', min: 1}),
    burst: Flags.integer({description: 'requests an address may make at once above --rate [default: twice --rate]', min: 1}),
    'max-connections': Flags.integer({description: 'open inbound connections (a quarter of them per address, half per /24 or /48); requests on more get 503 with Retry-After [default: 1024]', min: 1}),
    'max-requests': Flags.integer({description: 'inbound requests handled at once (a quarter of them per address; up to 1024 more wait in a queue) [default: 256]', min: 1}),
    'max-storage': Flags.string({description: 'hard cap on the bytes of this node\'s packs, e.g. 500M, 10G (binary units): a write that would pass it is refused with NO_SPACE, as on a full disk [default: none]'}),
    seed: Flags.string({description: 'ask this node for peers at start, then register with them (repeatable; adds to "seeds" in settings.json)', multiple: true}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Serve)
    const home = this.resolveHome(flags)
    const {PolarNode} = await import('../lib/node/index.js')
    const {loadSettings} = await import('../lib/settings.js')
    const settings = await loadSettings(home)
    if (flags.replicas !== undefined) settings.replicas = flags.replicas
    if (flags['repair-interval'] !== undefined) settings.repairIntervalMs = flags['repair-interval'] * 1000
    if (flags['ping-interval'] !== undefined) settings.pingIntervalMs = flags['ping-interval'] * 1000
    // --rate R alone means a burst of 2R (issue 15 point 6), whatever settings.json says of the burst.
    if (flags.rate !== undefined) {
      settings.rate = flags.rate
      settings.burst = flags.burst
    } else if (flags.burst !== undefined) settings.burst = flags.burst
    if (flags['max-connections'] !== undefined) settings.maxConnections = flags['max-connections']
    if (flags['max-requests'] !== undefined) settings.maxRequests = flags['max-requests']
    if (flags['max-storage'] !== undefined) {
      const {parseSize} = await import('../lib/util/size.js')
      settings.maxStorageBytes = parseSize(flags['max-storage'], '--max-storage')
    }
    if (flags.seed?.length) {
      const {parseSeedUrls} = await import('../lib/net/address.js')
      settings.seeds = [...settings.seeds, ...parseSeedUrls(flags.seed)]
    }
    const {handleGateway} = await import('../lib/gateway/index.js')
    const node = new PolarNode({
      home, listen: flags.listen, announce: flags.announce, settings,
      gateway: (req, res, url, {store, heal}) => handleGateway(req, res, url, {blocks: {has: (c) => store.blocks.has(c), get: (c) => store.blocks.getAsync(c)}, onCorruptBlock: heal}),
    })
    const ready = await node.start()
    if (this.jsonEnabled()) process.stdout.write(JSON.stringify({event: 'ready', ...ready}) + '\n')
    else this.log(`polar node ${ready.did} on ${ready.url} (local API ${ready.socket})`)
    await new Promise<void>((resolve) => {
      const stop = (sig: string) => {
        process.stderr.write(`${new Date().toISOString()} ${sig}: stopping\n`)
        node.stop().then(resolve, resolve)
      }
      process.once('SIGINT', () => stop('SIGINT'))
      process.once('SIGTERM', () => stop('SIGTERM'))
    })
    // The ready line was the JSON output; nothing more on stdout.
    this.exit(0)
  }
}
