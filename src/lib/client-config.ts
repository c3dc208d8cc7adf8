import {existsSync, readFileSync} from 'node:fs'
import {isAbsolute, join} from 'node:path'
import {InputError} from './errors.js'

/**
 * The client config (issue 19, point 9): defaults for the commands of one
 * POLAR_HOME, in POLAR_HOME/config.json (mode 0600), written by
 * `polar config set|unset` through `conf`. Precedence, highest first: the
 * command's flag, its environment variable (POLAR_NODE), this file, the
 * built-in default (docs/cli.md "Client config"). Node settings are another
 * file (settings.json, read by `polar serve` only: src/lib/settings.ts).
 */
export interface ClientConfig {
  /** The node commands act against (--node): a URL, or a node's socket path. */
  node?: string
  /** The identity that signs (--key). */
  key?: string
  /** Nodes a push places an object on (push --replicas). */
  replicas?: number
}

export const CONFIG_FILE = 'config.json'

/** The keys, what each one is the default of, and how its value is checked and stored. */
export const CONFIG_KEYS: Record<keyof ClientConfig, {describe: string; parse: (text: string) => string | number}> = {
  node: {describe: 'the node to act against (--node): http(s)://HOST:PORT or a socket path', parse: parseNode},
  key: {describe: 'the identity that signs (--key)', parse: parseKeyName},
  replicas: {describe: 'nodes a push places an object on (push --replicas), 1 to 64', parse: parseReplicas},
}

export function isConfigKey(key: string): key is keyof ClientConfig {
  return Object.hasOwn(CONFIG_KEYS, key)
}

export function assertConfigKey(key: string): keyof ClientConfig {
  if (!isConfigKey(key)) throw new InputError(`unknown config key ${JSON.stringify(key)}; the keys are ${Object.keys(CONFIG_KEYS).join(', ')}`, {code: 'USAGE'})
  return key
}

function parseNode(text: string): string {
  if (/^https?:\/\//i.test(text)) {
    let url: URL
    try {
      url = new URL(text)
    } catch {
      throw new InputError(`node ${JSON.stringify(text)} is not a URL; give http(s)://HOST:PORT, e.g. http://127.0.0.1:7477`)
    }
    if (!url.hostname || url.username || url.password || (url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
      throw new InputError(`node ${JSON.stringify(text)} must be a bare http(s)://HOST:PORT (no user, path, query or fragment)`)
    }
    return url.origin
  }
  if (isAbsolute(text)) return text
  throw new InputError(`node ${JSON.stringify(text)} is neither an http(s):// URL nor an absolute socket path`)
}

/** Same alphabet as KeyStore names (a key name is a file name). */
function parseKeyName(text: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(text)) throw new InputError(`bad key name ${JSON.stringify(text)}: use letters, digits, '.', '_' or '-' (at most 64)`)
  return text
}

function parseReplicas(text: string): number {
  const n = Number(text)
  if (!/^\d+$/.test(text.trim()) || !Number.isInteger(n) || n < 1 || n > 64) throw new InputError(`replicas must be an integer from 1 to 64, not ${JSON.stringify(text)}`)
  return n
}

/**
 * The config of `home`, checked (a hand-edited bad value is exit 2 naming the
 * file, not a surprise later). Read with plain fs, not `conf`: every command
 * reads it, and `polar --version` and scripted calls must stay fast.
 */
export function readClientConfig(home: string): ClientConfig {
  const path = join(home, CONFIG_FILE)
  if (!existsSync(path)) return {}
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'))
  } catch (err) {
    throw new InputError(`${path} is not valid JSON (${(err as Error).message}); fix it or remove it`)
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new InputError(`${path} must hold a JSON object`)
  const out: ClientConfig = {}
  for (const [key, value] of Object.entries(raw)) {
    if (!isConfigKey(key)) continue // a newer polar's key: left alone
    try {
      ;(out as Record<string, unknown>)[key] = CONFIG_KEYS[key].parse(String(value))
    } catch (err) {
      throw new InputError(`${path}: ${(err as Error).message}; run \`polar config set ${key} VALUE\` or \`polar config unset ${key}\``)
    }
  }
  return out
}

/** The `conf` store of the file, for `polar config` (loaded only there). */
export async function openClientConfig(home: string) {
  const {default: Conf} = await import('conf')
  try {
    return new Conf<Record<string, unknown>>({
      cwd: home, // follows POLAR_HOME (tests and several homes on one machine), not conf's per-user default
      configName: 'config',
      projectName: 'polar',
      configFileMode: 0o600, // issue 20, point 11: the home's files are this user's business
    })
  } catch (err) {
    throw new InputError(`${join(home, CONFIG_FILE)}: ${(err as Error).message}; fix it or remove it`)
  }
}
