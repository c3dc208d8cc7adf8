// An independent mirror of the signed-record format (src/lib/records/signed.ts):
// a signature over this prefix + the canonical dag-cbor of every field but
// `sig`. Tests use it to build records the real signers would refuse to make;
// each test file has a positive control (the mirror reproduces a real record
// byte for byte), so the negative tests fail for the reason they name.
import * as dagCbor from '@ipld/dag-cbor'
import type {Identity} from '../../src/lib/identity/keys.js'

const PREFIX = new TextEncoder().encode('polar-record-v1\n')

export function signAs(signer: Identity, value: Record<string, unknown>): Uint8Array {
  const {sig: _drop, ...unsigned} = value
  const sig = signer.sign(Uint8Array.from([...PREFIX, ...dagCbor.encode(unsigned)]))
  return dagCbor.encode({...unsigned, sig})
}
