import {Router} from '../net/http.js'
import type {NodeContext} from './context.js'
import {blockRoutes} from './block-routes.js'
import {objectRoutes} from './object-routes.js'
import {peerRoutes} from './peer-routes.js'
import {remoteWriteRoutes} from './remote-write.js'
import {publicSearchTrustRoutes} from './trust-search-api.js'

export {PROTOCOL_VERSION, SERVICES} from './protocol.js'

/** The peer protocol (docs/protocol.md): versioned /v1/ routes on the public listener, one module per concern. */
export function publicRouter(ctx: NodeContext): Router {
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
