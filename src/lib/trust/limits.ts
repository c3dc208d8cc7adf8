/** Trust records a node keeps before it refuses those of identities outside its owner's 3-hop reach. */
export const MAX_TRUST_RECORDS_FOREIGN = 50_000
