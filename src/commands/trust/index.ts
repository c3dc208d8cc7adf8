import TrustLs from './ls.js'

export default class Trust extends TrustLs {
  static override summary = 'Your web of trust: the identities you trust (as `trust ls`; see trust add, rm, score).'
  static override description = `Your trust record lists identities with weights; it is signed by your key and published through the node you act against. Trust scores (CLI.md): your identity has trust 1 and passes it on in proportion to weights; a score is the sum over paths of at most 3 hops that visit no identity twice of the product of the fractions. Scores rank search results and let a node take remote writes (push --node) from owners it trusts.`

  static override examples = [
    '<%= config.bin %> trust',
    '<%= config.bin %> trust add did:key:z6Mk... --weight 2',
    '<%= config.bin %> trust score did:key:z6Mk... --json',
  ]
}
