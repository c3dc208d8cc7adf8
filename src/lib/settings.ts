import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {DEFAULT_SETTINGS, type NodeSettings} from './node/context.js'
import {InputError} from './errors.js'

/** What a setting may hold: the small subset of JSON Schema settings.json needs. */
interface Rule {
  type: 'integer' | 'number' | 'boolean' | 'array' | Array<'boolean' | 'null'>
  minimum?: number
  maximum?: number
  exclusiveMinimum?: number
  maxItems?: number
  items?: {type: 'string'; pattern: string}
  /** null is allowed too (a setting whose default is "none"). */
  nullable?: boolean
}

const SCHEMA: Record<string, Rule> = {
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
  maxStorageBytes: {type: 'integer', minimum: 1, nullable: true},
}

/**
 * Node settings in POLAR_HOME/settings.json, over the defaults; flags given
 * to `polar serve` win over both. Loaded only by serve and seed.
 *
 * Checked here by hand rather than by `conf` (and its JSON Schema compiler,
 * ajv): loading and compiling those grew an idle node by about 17 MB of RSS
 * (issue 15 point 4, docs/benchmarks.md), for a flat file of numbers.
 * Keys the schema does not know pass through, as they did with conf.
 */
export async function loadSettings(home: string): Promise<NodeSettings> {
  const path = join(home, 'settings.json')
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {...DEFAULT_SETTINGS}
    throw new InputError(`${path}: ${(err as Error).message}`)
  }
  let value: unknown
  try {
    value = text.trim() === '' ? {} : JSON.parse(text)
  } catch (err) {
    throw new InputError(`${path}: not JSON (${(err as Error).message})`)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InputError(`${path}: expected a JSON object`)
  for (const [key, v] of Object.entries(value)) {
    const rule = SCHEMA[key]
    const why = rule && violation(rule, v)
    if (why) throw new InputError(`${path}: setting \`${key}\` ${why}`)
  }
  return {...DEFAULT_SETTINGS, ...(value as Partial<NodeSettings>)}
}

/** Why `v` breaks `rule`, or undefined. */
function violation(rule: Rule, v: unknown): string | undefined {
  if (rule.nullable && v === null) return undefined
  if (Array.isArray(rule.type)) return (rule.type as unknown[]).includes(v === null ? 'null' : typeof v) ? undefined : `must be ${rule.type.join(' or ')}`
  if (rule.type === 'boolean') return typeof v === 'boolean' ? undefined : 'must be boolean'
  if (rule.type === 'array') {
    if (!Array.isArray(v)) return 'must be array'
    if (rule.maxItems !== undefined && v.length > rule.maxItems) return `must have at most ${rule.maxItems} items`
    const pattern = new RegExp(rule.items!.pattern)
    for (const item of v) if (typeof item !== 'string' || !pattern.test(item)) return `items must be strings matching ${rule.items!.pattern}`
    return undefined
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) return `must be ${rule.type}`
  if (rule.type === 'integer' && !Number.isInteger(v)) return 'must be integer'
  if (rule.minimum !== undefined && v < rule.minimum) return `must be >= ${rule.minimum}`
  if (rule.maximum !== undefined && v > rule.maximum) return `must be <= ${rule.maximum}`
  if (rule.exclusiveMinimum !== undefined && v <= rule.exclusiveMinimum) return `must be > ${rule.exclusiveMinimum}`
  return undefined
}
