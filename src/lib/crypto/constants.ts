/**
 * The numbers and labels of polar's envelope format, version 1
 * (docs/protocol.md "Envelope and sealed data"). Changing any of them changes
 * the format: the known-answer vectors in test/crypto/ fail, on purpose.
 */

/** "polarenc": the first 8 bytes of every envelope. */
export const MAGIC = Uint8Array.from([0x70, 0x6f, 0x6c, 0x61, 0x72, 0x65, 0x6e, 0x63])
export const VERSION = 1

/** The content key (the file key in age's words): 32 random bytes per envelope or private object. */
export const KEY_SIZE = 32
/** AEAD tag (AES-256-GCM and ChaCha20-Poly1305 alike). */
export const TAG_SIZE = 16
export const NONCE_SIZE = 12

/**
 * STREAM chunks (Hoang, Reyhanitabar, Rogaway, Vizár, "Online
 * authenticated-encryption and its nonce-reuse misuse-resistance", CRYPTO 2015):
 * every ciphertext chunk but the last is exactly 1 MiB, the UnixFS raw-leaf
 * size of the unixfs-v1-2025 profile, so a private object's leaves (issue 18)
 * are its AEAD chunks one for one: leaf i decrypts alone, with no copying.
 */
export const CIPHER_CHUNK_SIZE = 1024 * 1024
export const PLAIN_CHUNK_SIZE = CIPHER_CHUNK_SIZE - TAG_SIZE
/** Nonce = prefix (7 bytes, derived from the key) ‖ chunk counter (uint32 BE) ‖ last-chunk flag (1 byte). */
export const NONCE_PREFIX_SIZE = 7
/** The counter is 32 bits: at most 2^32 chunks, about 4 PiB, per key. */
export const MAX_CHUNKS = 2 ** 32

/** A stanza: ephemeral X25519 public key (32) ‖ the content key under AEAD (32 + 16). */
export const STANZA_SIZE = 32 + KEY_SIZE + TAG_SIZE
/**
 * Recipients per envelope. A decrypter runs one X25519 per (local identity,
 * stanza), so a hostile envelope costs it at most this many per key; and a
 * private object's header (43 + 80 × 128 = 10283 bytes) still fits a signed
 * record (16 KiB, records/signed.ts) with its sealed metadata.
 */
export const MAX_RECIPIENTS = 128
export const HEADER_FIXED_SIZE = MAGIC.length + 1 + 2
export const HEADER_MAC_SIZE = 32

/** Sealed metadata: version (1) ‖ random nonce (12) ‖ ciphertext ‖ tag (16); at most this many bytes in all. */
export const SEALED_VERSION = 1
export const MAX_SEALED_SIZE = 64 * 1024

/** HKDF-SHA256 `info` labels (RFC 5869): one per use of a key, so no two uses share key material. */
export const LABEL = {
  /** Stanza wrap key; followed by the ephemeral and the recipient X25519 public keys. */
  stanza: 'polar-envelope-v1/x25519\n',
  /** The header MAC key, from the content key. */
  headerMac: 'polar-envelope-v1/header',
  /** The STREAM payload key, from the content key. */
  streamKey: 'polar-stream-v1/key',
  /** The STREAM nonce prefix, from the content key. */
  streamNonce: 'polar-stream-v1/nonce',
  /** A sealed-data key, from the content key; followed by the purpose ("metadata", …). */
  sealed: 'polar-sealed-v1/',
} as const

/**
 * Signatures for services over arbitrary bytes. Every message polar signs
 * starts with its own "polar-…-vN\n" prefix and no prefix is the start of
 * another: records "polar-record-v1\n" (records/signed.ts), peer records
 * "polar-peer-record-v1\n", requests "polar-request-v2\n" (net/auth.ts),
 * data "polar-sign-v1\n". So a data signature can never be taken for a record
 * or a request, whatever the data.
 */
export const SIGN_PREFIX = 'polar-sign-v1\n'
/** A signing context (the service's own domain separation) is at most 255 bytes of UTF-8. */
export const MAX_CONTEXT_BYTES = 255
export const SIGNATURE_SIZE = 64
