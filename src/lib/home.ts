import {mkdirSync} from 'node:fs'
import {homedir} from 'node:os'
import {join, resolve} from 'node:path'

/**
 * POLAR_HOME: keys, store and socket of one polar user or node.
 * Order: explicit (the --home flag), $POLAR_HOME, $XDG_DATA_HOME/polar,
 * ~/.local/share/polar (XDG Base Directory spec default for data).
 */
export function resolveHome(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return resolve(explicit)
  if (env.POLAR_HOME) return resolve(env.POLAR_HOME)
  const xdg = env.XDG_DATA_HOME && env.XDG_DATA_HOME.startsWith('/') ? env.XDG_DATA_HOME : join(homedir(), '.local', 'share')
  return join(xdg, 'polar')
}

/** Creates the home (mode 0700: it holds private keys) if it does not exist. */
export function ensureHome(home: string): string {
  mkdirSync(home, {recursive: true, mode: 0o700})
  return home
}
