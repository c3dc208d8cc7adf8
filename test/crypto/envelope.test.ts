import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {describe, it} from 'node:test'
import {ed25519} from '@noble/curves/ed25519.js'
import {decryptEnvelope, encodeHeader, encryptEnvelope, headerSize, MAX_RECIPIENTS, newContentKey, openHeader, PLAIN_CHUNK_SIZE, recipientCount} from '../../src/lib/crypto/index.js'
import {IntegrityError, InputError, PolarError} from '../../src/lib/errors.js'
import {didFromPublicKey, generateSecretKey, identityFromSecret, type Identity} from '../../src/lib/identity/index.js'

const newIdentity = (name: string) => identityFromSecret(name, generateSecretKey())

async function * piecesOf(data: Uint8Array, size = 65_536): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size)
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const p of source) parts.push(p)
  return Buffer.concat(parts)
}

async function envelopeOf(data: Uint8Array, dids: string[]): Promise<Buffer> {
  return collect(encryptEnvelope(piecesOf(data), dids).chunks)
}

async function open(envelope: Uint8Array, identities: Identity[]): Promise<{data: Buffer; identity: Identity}> {
  const opened = await decryptEnvelope(piecesOf(envelope, 4096), identities)
  return {data: await collect(opened.plaintext), identity: opened.identity}
}

const isCode = (code: string) => (err: unknown) => err instanceof PolarError && err.code === code && err.exit === 4

describe('envelope: recipients', () => {
  const alice = newIdentity('alice')
  const bob = newIdentity('bob')
  const carol = newIdentity('carol')

  it('every recipient opens it, with whichever of its local keys it is for', async () => {
    const data = randomBytes(PLAIN_CHUNK_SIZE + 10)
    const env = await envelopeOf(data, [alice.did, bob.did])
    for (const me of [alice, bob]) {
      const got = await open(env, [carol, me])
      assert.ok(got.data.equals(data))
      assert.equal(got.identity, me, 'reports the identity that opened it')
    }
  })

  it('a non-recipient gets a clear refusal, NOT_A_RECIPIENT, before any plaintext', async () => {
    const env = await envelopeOf(randomBytes(100), [alice.did, bob.did])
    await assert.rejects(decryptEnvelope(piecesOf(env), [carol]), (err: unknown) => {
      assert.ok(isCode('NOT_A_RECIPIENT')(err))
      assert.match((err as Error).message, /not encrypted for your key \(carol\).*2 recipient/)
      return true
    })
  })

  it('leaks the number of recipients and nothing that names them', async () => {
    const env = await envelopeOf(randomBytes(10), [alice.did, bob.did, carol.did])
    const header = env.subarray(0, headerSize(3))
    assert.equal(recipientCount(header), 3)
    assert.equal(header.length, 11 + 3 * 80 + 32)
    for (const id of [alice, bob, carol]) {
      for (const key of [id.publicKey, ed25519.utils.toMontgomery(id.publicKey)]) {
        assert.equal(env.indexOf(Buffer.from(key).subarray(0, 8)), -1, `${id.name}'s public key appears in the envelope`)
      }
    }
  })

  it('stanzas are shuffled: their order says nothing', async () => {
    // Each recipient's stanza is found by opening: over 20 envelopes alice's is first in some and second in others.
    const positions = new Set<number>()
    const key = newContentKey()
    for (let i = 0; i < 20 && positions.size < 2; i++) {
      const header = encodeHeader(key, [alice.did, bob.did])
      const first = Uint8Array.from(header)
      first.copyWithin(11 + 80, 11, 11 + 80) // stanza 0 in both places: the MAC breaks, but a key still unwraps
      try {
        openHeader(first, [alice])
      } catch (err) {
        positions.add(isCode('NOT_A_RECIPIENT')(err) ? 1 : 0)
      }
    }
    assert.deepEqual([...positions].sort(), [0, 1])
  })

  it('the same did twice gets one stanza; refuses none, too many, malformed and unusable dids (exit 2)', async () => {
    const env = encryptEnvelope(piecesOf(new Uint8Array(1)), [alice.did, alice.did, bob.did])
    assert.deepEqual(env.recipients, [alice.did, bob.did])
    assert.equal(recipientCount(await collect(env.chunks)), 2)
    const bad = (dids: string[], code: string) => assert.throws(() => encryptEnvelope(piecesOf(new Uint8Array(1)), dids), (err: unknown) => err instanceof InputError && err.code === code && err.exit === 2)
    bad([], 'USAGE')
    bad(Array.from({length: MAX_RECIPIENTS + 1}, () => newIdentity('x').did), 'TOO_MANY_RECIPIENTS')
    bad(['did:key:z6Mkbad'], 'BAD_INPUT')
    // The identity point (order 1) and a point of order 2: no secret would protect their stanzas.
    bad([didFromPublicKey(ed25519.Point.ZERO.toBytes())], 'BAD_RECIPIENT')
    bad([didFromPublicKey(Buffer.from('ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', 'hex'))], 'BAD_RECIPIENT')
    // 32 bytes that are no curve point.
    let notPoint: Uint8Array
    for (let i = 0; ; i++) {
      notPoint = Uint8Array.from(Buffer.alloc(32, i))
      try { ed25519.Point.fromBytes(notPoint) } catch { break }
    }
    bad([didFromPublicKey(notPoint)], 'BAD_RECIPIENT')
  })

  it('MAX_RECIPIENTS recipients fit, and the last one opens it', async () => {
    const ids = Array.from({length: MAX_RECIPIENTS}, (_, i) => newIdentity(`r${i}`))
    const env = await envelopeOf(Buffer.from('many'), ids.map((i) => i.did))
    assert.equal(recipientCount(env), MAX_RECIPIENTS)
    assert.equal((await open(env, [ids.at(-1)!])).data.toString(), 'many')
  })
})

describe('envelope: tampering is refused (exit 4)', () => {
  const alice = newIdentity('alice')
  const bob = newIdentity('bob')
  const data = randomBytes(2 * PLAIN_CHUNK_SIZE + 5) // 3 chunks
  let env: Buffer
  const size = headerSize(2)
  const refused = (bytes: Uint8Array, why: string) => assert.rejects(open(bytes, [alice]), (err: unknown) => err instanceof IntegrityError && err.exit === 4, why)
  const flipped = (at: number) => { const b = Buffer.from(env); b[at] ^= 0x01; return b }

  it('set up', async () => {
    env = await envelopeOf(data, [alice.did, bob.did])
    assert.ok((await open(env, [alice])).data.equals(data))
  })

  it('a flipped bit in every byte of the header: magic, version, count, both stanzas, MAC', async () => {
    for (let at = 0; at < size; at++) await refused(flipped(at), `header byte ${at}`)
  })

  it('bob\'s stanza altered: alice sees the MAC fail (INTEGRITY); alice\'s altered: "not for your key"', async () => {
    // Which stanza is whose: the one alice's key opens.
    const mine = [0, 1].find((i) => { const h = Buffer.from(env.subarray(0, size)); h[11 + (1 - i) * 80 + 40] ^= 1; try { openHeader(h, [alice]); return false } catch (e) { return isCode('INTEGRITY')(e) } })!
    const b1 = flipped(11 + (1 - mine) * 80 + 40)
    await assert.rejects(open(b1, [alice]), isCode('INTEGRITY'))
    const b2 = flipped(11 + mine * 80 + 40)
    await assert.rejects(open(b2, [alice]), isCode('NOT_A_RECIPIENT'))
  })

  it('stanzas swapped, dropped or added, header cut short', async () => {
    const swapped = Buffer.from(env)
    swapped.set(env.subarray(11 + 80, 11 + 160), 11)
    swapped.set(env.subarray(11, 11 + 80), 11 + 80)
    await refused(swapped, 'stanzas swapped')
    const other = await envelopeOf(Buffer.from('x'), [alice.did])
    const dropped = Buffer.concat([env.subarray(0, 9), Uint8Array.of(0, 1), env.subarray(11, 11 + 80), env.subarray(size - 32)])
    await refused(Buffer.concat([dropped, env.subarray(size)]), 'one stanza dropped')
    const added = Buffer.concat([env.subarray(0, 9), Uint8Array.of(0, 3), env.subarray(11, size - 32), other.subarray(11, 91), env.subarray(size - 32)])
    await refused(Buffer.concat([added, env.subarray(size)]), 'a stanza added')
    await refused(Buffer.concat([other.subarray(0, headerSize(1)), env.subarray(size)]), 'another envelope\'s header on this payload')
    for (const n of [0, 5, 11, 50, size - 1]) await refused(env.subarray(0, n), `cut at ${n}`)
  })

  it('the payload: a flipped byte in any chunk, chunks dropped, swapped or appended', async () => {
    const C = 1024 * 1024
    const chunk = (i: number) => env.subarray(size + i * C, Math.min(size + (i + 1) * C, env.length))
    for (const at of [size, size + 5, size + C - 1, size + C + 17, env.length - 17, env.length - 1]) await refused(flipped(at), `payload byte ${at}`)
    await refused(Buffer.concat([env.subarray(0, size), chunk(0), chunk(1)]), 'last chunk dropped')
    await refused(Buffer.concat([env.subarray(0, size), chunk(1), chunk(0), chunk(2)]), 'chunks swapped')
    await refused(Buffer.concat([env, chunk(0)]), 'a chunk appended')
    await refused(env.subarray(0, size), 'no payload at all')
  })

  it('not an envelope, or a version this code does not read', async () => {
    await assert.rejects(open(Buffer.from('hello, this is plain text and no envelope'), [alice]), isCode('NOT_AN_ENVELOPE'))
    await assert.rejects(open(new Uint8Array(0), [alice]), isCode('NOT_AN_ENVELOPE'))
    const v2 = Buffer.from(env)
    v2[8] = 2
    await assert.rejects(open(v2, [alice]), isCode('UNSUPPORTED_VERSION'))
  })
})
