import {Flags} from '@oclif/core'
import {PolarCommand} from '../lib/cli/base-command.js'
import type {NatReport} from '../lib/client/index.js'

export default class NatTest extends PolarCommand {
  static override summary = 'Ask a peer to dial back to the address this node announces.'
  static override description = `The node on this home asks a peer (--via URL, repeatable; default: up to 3 live peers from its table, in turn until one answers) to dial back to the URL it announces. The peer opens a new connection to that URL's /v1/hello, checks that the node answering is this one, and says which address it saw our request come from. Meanwhile the default gateway is asked whether it offers port mapping (NAT-PMP, UPnP IGD; one second at most).

Exit 0 when the dial-back got through, 5 when it did not (behind a NAT or a firewall, or a wrong --announce) or no peer could run the test. --node URL names the peer to ask (like --via); --node SOCKET uses the node on that socket.`

  static override examples = [
    '<%= config.bin %> nat-test',
    '<%= config.bin %> nat-test --via http://peer.example:7477 --json',
  ]

  static override flags = {
    via: Flags.string({description: 'peer URL to ask for the dial-back (repeatable; a path is dropped) [default: up to 3 known live peers]', multiple: true}),
  }

  async run(): Promise<NatReport> {
    const {flags} = await this.parse(NatTest)
    // A --node URL is a peer to ask, not the node under test (client/common.ts).
    const {natTestTargets} = await import('../lib/client/common.js')
    const {node, via} = await natTestTargets(flags.node, flags.via ?? [])
    const client = await this.client({home: flags.home, node})
    const report = await client.natTest(via)
    if (this.jsonEnabled()) {
      if (!report.reachable) {
        this.logJson(report)
        this.exit(5)
      }
      return report
    }
    const pm = report.portMapping
    const mapping = pm.natPmp ? `NAT-PMP (public address ${pm.natPmp.publicAddress})` : pm.upnp ? `UPnP IGD (${pm.upnp.location})` : 'none found'
    this.log(`reachable:    ${report.reachable ? 'yes' : 'no'}`)
    this.log(`announced:    ${report.announced}`)
    this.log(`observed:     ${report.observed ?? '-'} (as ${report.via.url} saw us)`)
    this.log(`via:          ${report.via.did} at ${report.via.url}`)
    this.log(`port mapping: ${mapping}${pm.gateway ? ` (gateway ${pm.gateway})` : ''}`)
    if (!report.reachable) {
      this.log(`reason:       ${report.reason}`)
      this.exit(5)
    }
    return report
  }
}
