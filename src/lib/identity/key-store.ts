import {chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {InputError, IntegrityError, NotFoundError, PolarError} from '../errors.js'
import {writeFileAtomicSync} from '../util/fs.js'
import {generateSecretKey, identityFromSecret, type Identity} from './keys.js'

export const DEFAULT_KEY_NAME = 'default'
/** A key name is a file name: keep it to a portable, unsurprising alphabet. */
const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

interface KeyFile {
  version: 1
  type: 'ed25519'
  did: string
  secretKey: string // base64
}

/**
 * Named identities in POLAR_HOME/keys/NAME, one JSON file each at mode 0600
 * in a 0700 directory.
 */
export class KeyStore {
  readonly dir: string

  constructor(home: string) {
    this.dir = join(home, 'keys')
  }

  pathOf(name: string): string {
    if (!KEY_NAME.test(name)) {
      throw new InputError(`bad key name ${JSON.stringify(name)}: use letters, digits, '.', '_' or '-' (at most 64)`)
    }
    return join(this.dir, name)
  }

  /** The did of key `name` (by default the home's `default` identity), or undefined when it does not exist. */
  didOf(name: string = DEFAULT_KEY_NAME): string | undefined {
    return this.has(name) ? this.load(name).did : undefined
  }

  has(name: string): boolean {
    return existsSync(this.pathOf(name))
  }

  /** Creates a new identity; refuses to replace an existing one unless `force`. */
  create(name: string, {force = false} = {}): {identity: Identity; path: string} {
    const path = this.pathOf(name)
    mkdirSync(this.dir, {recursive: true, mode: 0o700})
    chmodSync(this.dir, 0o700)
    const secret = generateSecretKey()
    const identity = identityFromSecret(name, secret)
    const file: KeyFile = {version: 1, type: 'ed25519', did: identity.did, secretKey: Buffer.from(secret).toString('base64')}
    try {
      writeFileAtomicSync(path, JSON.stringify(file) + '\n', 0o600, force ? 'w' : 'wx')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        // Say which identity stays, so the user sees what they would replace (issue 19, point 3).
        let did = ''
        try { did = ` (${this.load(name).did})` } catch {}
        throw new InputError(`identity "${name}"${did} already exists at ${path}; pass --force to replace it (its old key is lost)`, {code: 'EXISTS'})
      }
      throw err
    }
    return {identity, path}
  }

  load(name: string): Identity {
    const path = this.pathOf(name)
    let text: string
    try {
      text = readFileSync(path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new NotFoundError(`no identity "${name}" in ${this.dir}; create it with \`polar keygen --name ${name}\``)
      }
      throw err
    }
    if ((statSync(path).mode & 0o077) !== 0) {
      throw new PolarError(`key file ${path} is readable by others; run \`chmod 600 ${path}\``, {code: 'KEY_PERMISSIONS'})
    }
    let file: KeyFile
    try {
      file = JSON.parse(text)
    } catch {
      throw new IntegrityError(`key file ${path} is not valid JSON`)
    }
    const secret = Buffer.from(String(file.secretKey ?? ''), 'base64')
    if (file.type !== 'ed25519' || secret.length !== 32) throw new IntegrityError(`key file ${path} does not hold an ed25519 secret key`)
    const identity = identityFromSecret(name, new Uint8Array(secret))
    if (identity.did !== file.did) throw new IntegrityError(`key file ${path}: its did does not match its secret key`)
    return identity
  }

  /** The identity a signing command uses: created on first use for the default name. */
  loadOrCreate(name: string = DEFAULT_KEY_NAME): Identity {
    if (!this.has(name)) {
      if (name !== DEFAULT_KEY_NAME) this.load(name) // throws the not-found error with its hint
      try {
        return this.create(name).identity
      } catch (err) {
        // Two first uses at once: the other one won; use its key.
        if (!(err instanceof PolarError && err.code === 'EXISTS')) throw err
      }
    }
    return this.load(name)
  }

  /**
   * Every identity of the home with its did and when its key was made (the
   * key file's mtime: a key file is written once, by keygen). A file that
   * does not load (bad JSON, loose mode) is listed with its error, not hidden.
   */
  describe(): Array<{name: string; did: string | null; created: string; path: string; error?: string}> {
    return this.list().map((name) => {
      const path = this.pathOf(name)
      let created = ''
      try { created = statSync(path).mtime.toISOString() } catch {}
      try {
        return {name, did: this.load(name).did, created, path}
      } catch (err) {
        return {name, did: null, created, path, error: (err as Error).message}
      }
    })
  }

  list(): string[] {
    try {
      return readdirSync(this.dir).filter((n) => KEY_NAME.test(n)).sort()
    } catch {
      return []
    }
  }
}
