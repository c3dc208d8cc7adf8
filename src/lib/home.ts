import {chmodSync, mkdirSync, statSync} from 'node:fs'
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

/** Directories of the home that hold only polar's own files: 0700, whatever the umask made them. */
const PRIVATE_DIRS = ['keys', 'node', join('node', 'keys'), 'blocks', 'lost+found']
/** Files of the home that other users must not read (records, peers, settings): 0600. */
const PRIVATE_FILES = ['polar.db', 'polar.db-wal', 'polar.db-shm', 'settings.json', 'config.json']

/**
 * Creates the home if needed and checks what other users can reach in it
 * (issue 20, point 11). polar's own directories and files that are open to
 * group or others (made by an older polar, by hand, or under a loose umask)
 * are set to 0700 / 0600, with a warning saying so. The home itself is only
 * warned about: it may be a directory the user chose to share, and its
 * files are private either way. Returns the warnings, for stderr.
 */
export function secureHome(home: string): string[] {
  ensureHome(home)
  const warnings: string[] = []
  const mode = modeOf(home)
  if (mode !== undefined && (mode & 0o077) !== 0) {
    warnings.push(`POLAR_HOME ${home} is open to other users (mode ${octal(mode)}): they can see what it holds; run \`chmod 700 ${home}\``)
  }
  for (const [names, want] of [[PRIVATE_DIRS, 0o700], [PRIVATE_FILES, 0o600]] as const) {
    for (const name of names) {
      const path = join(home, name)
      const m = modeOf(path)
      if (m === undefined || (m & 0o077) === 0) continue
      try {
        chmodSync(path, want)
        warnings.push(`${path} was open to other users (mode ${octal(m)}); it is ${octal(want)} now`)
      } catch (err) {
        warnings.push(`${path} is open to other users (mode ${octal(m)}) and could not be changed (${(err as Error).message}); run \`chmod ${octal(want)} ${path}\``)
      }
    }
  }
  return warnings
}

function modeOf(path: string): number | undefined {
  try {
    return statSync(path).mode & 0o777
  } catch {
    return undefined
  }
}

const octal = (mode: number) => '0' + mode.toString(8).padStart(3, '0')
