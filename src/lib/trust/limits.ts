/**
 * Trust records a node keeps before it refuses those of identities outside
 * its owner's 3-hop reach: records are free to make (any new key), so this
 * bounds what strangers can make a node store (10,000 × ≤ 16 KiB).
 */
export const MAX_TRUST_RECORDS_FOREIGN = 10_000
