import {DEFAULT_SETTINGS, type NodeSettings} from './node/context.js'
import {InputError} from './errors.js'

/**
 * Node settings in POLAR_HOME/settings.json (a `conf` store), over the
 * defaults; flags given to `polar serve` win over both. Loaded only by serve.
 */
export async function loadSettings(home: string): Promise<NodeSettings> {
  const {default: Conf} = await import('conf')
  let conf
  try {
    conf = new Conf<Partial<NodeSettings>>({
    cwd: home,
    configName: 'settings',
    projectName: 'polar',
    configFileMode: 0o600, // node settings are this user's business (issue 20, point 11)
    schema: {
      replicas: {type: 'integer', minimum: 1, maximum: 64},
      minReplicas: {type: 'integer', minimum: 0, maximum: 64},
      repairIntervalMs: {type: 'integer', minimum: 100},
      pingIntervalMs: {type: 'integer', minimum: 100},
      trustThreshold: {type: 'number', minimum: 0, maximum: 3},
      writeStampBits: {type: 'integer', minimum: 0, maximum: 32},
      trustSyncIntervalMs: {type: 'integer', minimum: 100},
      rate: {type: 'number', exclusiveMinimum: 0},
      burst: {type: 'integer', minimum: 1},
      maxConnections: {type: 'integer', minimum: 1},
      maxConnectionsPerAddress: {type: 'integer', minimum: 1},
      maxRequests: {type: 'integer', minimum: 1},
      maxRequestsPerAddress: {type: 'integer', minimum: 1},
      maxQueue: {type: 'integer', minimum: 0},
      headersTimeoutMs: {type: 'integer', minimum: 100},
      keepAliveTimeoutMs: {type: 'integer', minimum: 100},
      bodyTimeoutMs: {type: 'integer', minimum: 100},
      answerStallMs: {type: 'integer', minimum: 100},
      peerConnections: {type: 'integer', minimum: 1, maximum: 256},
      maxOutgoingRequests: {type: 'integer', minimum: 1},
      eraseSyncIntervalMs: {type: 'integer', minimum: 100},
      // discovery (#4)
      stampBits: {type: 'integer', minimum: 0, maximum: 32},
      seeds: {type: 'array', items: {type: 'string', pattern: '^https?://'}, maxItems: 64},
      gossipIntervalMs: {type: 'integer', minimum: 10},
      gossipFanout: {type: 'integer', minimum: 1, maximum: 64},
      pullIntervalMs: {type: 'integer', minimum: 100},
      peersPer24: {type: 'integer', minimum: 1},
      peersPer16: {type: 'integer', minimum: 1},
      limitLoopback: {type: 'boolean'},
      maxPeers: {type: 'integer', minimum: 1},
      seedAnswerMax: {type: 'integer', minimum: 1, maximum: 1024},
      deadRetryMs: {type: 'integer', minimum: 100},
      forgetDeadAfterMs: {type: 'integer', minimum: 1000},
      // hostile peers and strangers (#20)
      dialPrivate: {type: ['boolean', 'null']},
      maxObjectBytes: {type: 'integer', minimum: 1},
      // the storage cap (#19)
      maxStorageBytes: {type: ['integer', 'null'], minimum: 1},
    },
    })
    return {...DEFAULT_SETTINGS, ...conf.store}
  } catch (err) {
    throw new InputError(`${home}/settings.json: ${(err as Error).message}`)
  }
}
