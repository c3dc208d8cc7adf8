import {createReadStream, statSync} from 'node:fs'
import {InputError, IntegrityError, NotFoundError, PolarError} from '../errors.js'
import {DEFAULT_KEY_NAME, KeyStore, publicKeyFromDid, type Identity} from '../identity/index.js'
import {PLAIN_CHUNK_SIZE} from './constants.js'
import {formatSignature, parseSignature, signData, verifyData} from './sign.js'

/**
 * The work of `polar sign`, `verify`, `encrypt` and `decrypt` (issue 16):
 * crypto on the identities of a home, with no node. User identities only
 * (POLAR_HOME/keys), never the node's own key. The envelope code (and with
 * it @noble/curves) and the output writer load only for encrypt and decrypt:
 * sign and verify start as fast as keygen.
 */

/** A file, or standard input for '-' (refused when it is a terminal: typing data in by hand is never what was meant). */
export function openInput(file: string, readSize = 1024 * 1024): AsyncIterable<Uint8Array> {
  if (file === '-') {
    if (process.stdin.isTTY) throw new InputError('standard input is a terminal here: pipe the data in (`… | polar COMMAND`, `polar COMMAND < FILE`) or name a file', {code: 'USAGE'})
    return process.stdin
  }
  try {
    if (statSync(file).isDirectory()) throw new InputError(`${file} is a directory`)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new InputError(`no such file: ${file}`)
    if (code === 'EACCES') throw new InputError(`cannot read ${file}: permission denied`)
    throw err
  }
  return createReadStream(file, {highWaterMark: readSize})
}

export interface SignInput {
  file: string
  key?: string
  context?: string
}

export async function signFile(home: string, input: SignInput): Promise<{signature: string; did: string; key: string}> {
  const key = input.key ?? DEFAULT_KEY_NAME
  const identity = new KeyStore(home).loadOrCreate(key)
  const signature = await signData(identity, openInput(input.file), {context: input.context})
  return {signature: formatSignature(signature), did: identity.did, key}
}

export interface VerifyInput {
  file: string
  did: string
  signature: string
  context?: string
}

/** {valid: true} or IntegrityError (exit 4) with code SIGNATURE_INVALID; InputError for a malformed did or signature. */
export async function verifyFile(input: VerifyInput): Promise<{valid: true; did: string}> {
  publicKeyFromDid(input.did) // a malformed did is exit 2, before the data is read
  const signature = parseSignature(input.signature)
  if (!(await verifyData(input.did, openInput(input.file), signature, {context: input.context}))) {
    throw new IntegrityError(`the signature does not verify for ${input.did}${input.context ? ` in context ${JSON.stringify(input.context)}` : ''}: the data, the signature or the did differs from what was signed`, {code: 'SIGNATURE_INVALID'})
  }
  return {valid: true, did: input.did}
}

export interface OutputInput {
  /** Write here atomically (or into a FIFO or device) instead of stdout. */
  output?: string
  /** Write binary data to a terminal anyway. */
  force?: boolean
}

export interface EncryptInput extends OutputInput {
  file: string
  to: string[]
  /** With no `to`: encrypt for this identity of the home ("default", created on first use). */
  key?: string
}

export interface EncryptResult {
  recipients: string[]
  size: number
  path?: string
}

export async function encryptFile(home: string, input: EncryptInput): Promise<EncryptResult> {
  const [{encryptEnvelope}, {writeChunks}] = await Promise.all([import('./envelope.js'), import('../util/output.js')])
  const to = input.to.length > 0 ? input.to : [new KeyStore(home).loadOrCreate(input.key ?? DEFAULT_KEY_NAME).did]
  const envelope = encryptEnvelope(openInput(input.file, PLAIN_CHUNK_SIZE), to)
  const written = await writeChunks('the envelope', envelope.chunks, {output: input.output, force: input.force})
  return {recipients: envelope.recipients, size: written.size, ...(written.path ? {path: written.path} : {})}
}

export interface DecryptInput extends OutputInput {
  file: string
  /** Only this identity; else every identity of the home is tried. */
  key?: string
}

export interface DecryptResult {
  key: string
  did: string
  size: number
  path?: string
}

/** The identities to try: `name` alone (NotFoundError when missing), else all of the home's. */
export function localIdentities(home: string, name?: string, warn: (message: string) => void = () => {}): Identity[] {
  const keys = new KeyStore(home)
  if (name !== undefined) return [keys.load(name)]
  const identities: Identity[] = []
  for (const n of keys.list()) {
    try {
      identities.push(keys.load(n))
    } catch (err) {
      if (!(err instanceof PolarError)) throw err
      warn(`skipping identity "${n}": ${err.message}`)
    }
  }
  if (identities.length === 0) throw new NotFoundError(`no identity in ${keys.dir} to decrypt with; create one with \`polar keygen\` (then have data encrypted to its did)`, {code: 'NO_IDENTITY'})
  return identities
}

export async function decryptFile(home: string, input: DecryptInput, warn?: (message: string) => void): Promise<DecryptResult> {
  const [{decryptEnvelope}, {writeChunks}] = await Promise.all([import('./envelope.js'), import('../util/output.js')])
  const identities = localIdentities(home, input.key, warn)
  const opened = await decryptEnvelope(openInput(input.file), identities)
  const written = await writeChunks('the decrypted data', opened.plaintext, {output: input.output, force: input.force})
  return {key: opened.identity.name, did: opened.identity.did, size: written.size, ...(written.path ? {path: written.path} : {})}
}
