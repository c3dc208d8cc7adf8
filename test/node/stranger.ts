// Playing the stranger against a real node: hand-made signed requests for the
// routes that make a node dial (register, announce, gossip), with the
// proof-of-work stamps they cost (issue 20).
import type {Identity} from '../../src/lib/identity/index.js'
import {signRequest} from '../../src/lib/net/auth.js'
import {mintStamp, registerStampResource} from '../../src/lib/records/stamp.js'

export interface Answer {
  status: number
  headers: Headers
  body: any
  text: string
}

/** A signed POST of `payload` (JSON) to `base + path`, addressed to `to`. */
export async function signedPost(base: string, path: string, payload: unknown, identity: Identity, to: string, timeoutMs = 30_000): Promise<Answer> {
  const raw = Buffer.from(JSON.stringify(payload))
  const res = await fetch(base + path, {method: 'POST', headers: {'content-type': 'application/json', ...signRequest(identity, 'POST', path, raw, Date.now(), to)}, body: raw, signal: AbortSignal.timeout(timeoutMs)})
  const text = await res.text()
  let body: any
  try {
    body = JSON.parse(text)
  } catch {}
  return {status: res.status, headers: res.headers, body, text}
}

/** The body of POST /v1/peers/register: `url` and a stamp of `bits` paid by `identity`. */
export async function registerPayload(identity: Identity, url: string, bits: number): Promise<{url: string; stamp: {bits: number; nonce: string; time: number}}> {
  const time = Date.now()
  const stamp = await mintStamp(registerStampResource(identity.did, new URL(url).origin), time, bits)
  return {url, stamp: {...stamp, time}}
}

/** A stamped registration of `identity` at `url` with the node at `base` (did `receiver`). */
export async function register(base: string, receiver: string, identity: Identity, url: string, bits: number): Promise<Answer> {
  return signedPost(base, '/v1/peers/register', await registerPayload(identity, url, bits), identity, receiver)
}
