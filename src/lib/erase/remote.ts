import {parseCid} from '../content/cid.js'
import {DAG_CBOR_CODE} from '../content/constants.js'
import {InputError, NetworkError, NotFoundError, PolarError} from '../errors.js'
import type {Identity} from '../identity/index.js'
import {PeerClient} from '../net/peer/index.js'
import {recordsFromAnswer, signErasures} from './erasures.js'
import type {EraseResult} from './index.js'

/**
 * `polar erase --node URL`: reads the object records for a root from the
 * remote node, signs the erase here (the key never leaves this home) and
 * sends it; the remote applies it and gossips it on.
 */
export async function remoteErase(nodeUrl: string, identity: Identity, cidText: string): Promise<EraseResult> {
  const cid = parseCid(cidText)
  if (cid.code === DAG_CBOR_CODE) throw new InputError('with --node, name the object by its root CID (the remote node looks records up by root)')
  const client = new PeerClient(nodeUrl, {connections: 1})
  try {
    const hello = await client.hello({timeoutMs: 15_000})
    const answer = await client.objects.records(cid, {timeoutMs: 15_000})
    const records = recordsFromAnswer(answer, cid)
    if (records.length === 0) throw new NotFoundError(`${nodeUrl} holds no object record with root ${cid}; check the CID`)
    const signed = signErasures(records, identity)
    let blocks = 0
    for (const v of signed) blocks += (await client.erase.send(v.erase.bytes, v.object.bytes, {timeoutMs: 30_000})).blocks
    return {cid: cidText, erased: true, records: signed.map((v) => v.object.cid.toString()), nodes: [hello.did], blocks}
  } catch (err) {
    if (err instanceof PolarError) throw err
    throw new NetworkError(`${nodeUrl}: ${(err as Error).message}`, {cause: err})
  } finally {
    await client.destroy()
  }
}
