/** Identities: ed25519 key pairs, printed as did:key, stored by name in POLAR_HOME/keys. */
export {didFromPublicKey, publicKeyFromDid, isDid, DID_KEY_PREFIX} from './did.js'
export {identityFromSecret, generateSecretKey, verifySignature, secretKeyOf, type Identity} from './keys.js'
export {KeyStore, DEFAULT_KEY_NAME} from './key-store.js'
