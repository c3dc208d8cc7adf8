/**
 * The web of trust (Planet draft "Web of trust", CLI.md "Trust scores"):
 * signed trust records, the store of those a node knows, the score, and the
 * loop that fetches the records of identities near the node's owner.
 */
export {trustScore, allScores, MAX_HOPS, type TrustGraph, type TrustPath, type TrustScore} from './score.js'
export {TrustStore, type PutResult} from './store.js'
export {changeEntries, type TrustChange} from './change.js'
