import {CID} from 'multiformats/cid'
import {assertSupportedCid} from '../content/cid.js'
import {DAG_CBOR_CODE} from '../content/constants.js'
import {IntegrityError, InputError, NotAllowedError} from '../errors.js'
import type {Identity} from '../identity/index.js'
import {decodeObjectRecord, type ObjectRecord} from './object-record.js'
import {checkSignature, openRecord, signRecord, type SignedRecord} from './signed.js'

/**
 * The erase record (tombstone, DESIGN.md "Records"): names one object record
 * (`target`, its record CID) and that record's root, and is signed by the
 * target's owner. It is valid only together with the target record, whose
 * owner must be the signer: an erase travels with the record it erases, so
 * any node can check it, including one that never held the object.
 */
export interface EraseRecord {
  type: 'erase'
  /** CID of the object record being erased. */
  target: CID
  /** Root CID of that object (so a node can find its blocks without the record). */
  root: CID
  owner: string
  /** Milliseconds since the Unix epoch. */
  time: number
  sig: Uint8Array
}

/** An erase record checked against the object record it erases. */
export interface VerifiedErase {
  erase: SignedRecord<EraseRecord>
  object: SignedRecord<ObjectRecord>
}

/**
 * Signs an erase of `object` with `identity`. Only the object's owner may:
 * anyone else gets NotAllowedError (exit 6) and nothing is signed.
 */
export function signEraseRecord(object: SignedRecord<ObjectRecord>, identity: Identity, time = Date.now()): SignedRecord<EraseRecord> {
  if (object.record.owner !== identity.did) {
    throw new NotAllowedError(`only the owner of ${object.record.root} (${object.record.owner}) can erase it; key "${identity.name}" is ${identity.did}`, {code: 'NOT_OWNER'})
  }
  const t = Math.trunc(time)
  if (!Number.isSafeInteger(t) || t < 0) throw new InputError(`erase time must be a non-negative integer, got ${time}`)
  const unsigned = {type: 'erase' as const, target: object.cid, root: object.record.root, owner: identity.did, time: t}
  return signRecord<EraseRecord>(unsigned, identity)
}

const FIELDS = ['owner', 'root', 'sig', 'target', 'time', 'type']

/**
 * Decodes and checks an erase record from untrusted bytes: size cap, exact
 * field set and types, canonical encoding and the signer's signature. Says
 * nothing yet about whether the signer owns the target: verifyErase does.
 * Throws IntegrityError naming the first problem.
 */
export function decodeEraseRecord(bytes: Uint8Array): SignedRecord<EraseRecord> {
  const {value, fail} = openRecord(bytes, 'erase', FIELDS)
  const target = CID.asCID(value.target)
  if (!target) fail('target is not a CID')
  if (target!.code !== DAG_CBOR_CODE) fail('target is not the CID of a dag-cbor record')
  const root = CID.asCID(value.root)
  if (!root) fail('root is not a CID')
  try {
    assertSupportedCid(target!)
    assertSupportedCid(root!)
  } catch (err) {
    fail((err as Error).message)
  }
  return checkSignature<EraseRecord>(value, bytes, fail)
}

/**
 * Checks an erase record against the object record it names: both verify,
 * the record is the target (same CID, same root), and the erase is signed by
 * the record's owner. A well-signed erase by anyone else is NotAllowedError
 * (exit 6, HTTP 403); bad bytes or a mismatch are IntegrityError.
 */
export function verifyErase(eraseBytes: Uint8Array, recordBytes: Uint8Array): VerifiedErase {
  const erase = decodeEraseRecord(eraseBytes)
  let object: SignedRecord<ObjectRecord>
  try {
    object = decodeObjectRecord(recordBytes)
  } catch (err) {
    throw new IntegrityError(`erase ${erase.cid}: the record it comes with is invalid: ${(err as Error).message}`)
  }
  if (!object.cid.equals(erase.record.target)) throw new IntegrityError(`erase ${erase.cid} names record ${erase.record.target}, but came with record ${object.cid}`)
  if (!object.record.root.equals(erase.record.root)) throw new IntegrityError(`erase ${erase.cid} names root ${erase.record.root}, but record ${object.cid} has root ${object.record.root}`)
  if (object.record.owner !== erase.record.owner) {
    throw new NotAllowedError(`erase ${erase.cid} is signed by ${erase.record.owner}, but ${object.record.root} belongs to ${object.record.owner}: only the owner can erase it`, {code: 'NOT_OWNER'})
  }
  return {erase, object}
}
