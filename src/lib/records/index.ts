/** Signed records (DESIGN.md "Records"): canonical dag-cbor, verified before they are stored or used. */
export {signObjectRecord, decodeObjectRecord, normaliseTags, checkMime, checkName, MAX_RECORD_BYTES, type ObjectRecord, type SignedRecord, type UnsignedObjectRecord} from './object-record.js'
export {RecordStore, type HeldObject, type StoredObject} from './record-store.js'
export {signTrustRecord, decodeTrustRecord, normaliseEntries, parseWeight, weightProblem, MAX_TRUST_ENTRIES, MAX_TRUST_WEIGHT, type TrustRecord, type TrustEntry} from './trust-record.js'
