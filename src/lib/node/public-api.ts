import {Router} from '../net/http.js'
import {type BlockRouteComponents, blockRoutes} from './block-routes.js'
import {type ObjectRouteComponents, objectRoutes} from './object-routes.js'
import {type PeerRouteComponents, peerRoutes} from './peer-routes.js'
import {type RemoteWriteComponents, remoteWriteRoutes} from './remote-write.js'
import {publicSearchTrustRoutes, type SearchTrustComponents} from './trust-search-api.js'

/** What the public routes use of the node: the union of what each route module takes. */
export type PublicApiComponents = PeerRouteComponents & BlockRouteComponents & ObjectRouteComponents & RemoteWriteComponents & SearchTrustComponents

export {PROTOCOL_VERSION, SERVICES} from './protocol.js'

/** The peer protocol (docs/protocol.md): versioned /v1/ routes on the public listener, one module per concern. */
export function publicRouter(ctx: PublicApiComponents): Router {
  const router = new Router()
  peerRoutes(router, ctx)
  blockRoutes(router, ctx)
  objectRoutes(router, ctx)
  // Remote writes by users (push --node): trusted owners, or a proof-of-work stamp (issue 5).
  remoteWriteRoutes(router, ctx)
  // Search of this node's index and trust records (issue 5).
  publicSearchTrustRoutes(router, ctx)
  return router
}
