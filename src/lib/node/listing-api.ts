import {isDid} from '../identity/index.js'
import {HttpError, sendJson, type Router} from '../net/http.js'
import {listObjects, storeCounts} from '../listing/index.js'
import type {NodeContext} from './context.js'

/** What the listing routes use of the node. */
export type ListingComponents = Pick<NodeContext, 'store' | 'peers' | 'identity' | 'url'>

/** When this module was loaded: the node's start, to a few milliseconds (uptime in `polar status`). */
const STARTED = Date.now()

/**
 * `polar ls` and `polar status` through the node (issue 19 point 3), on the
 * local socket only (this user's; docs/protocol.md "Local API"). A module of
 * its own so that local-api.ts changes by one line.
 */
export function localListingRoutes(router: Router, ctx: ListingComponents): void {
  router.on('GET', /^\/api\/v1\/objects$/, (_req, res, _p, url) => {
    const owner = url.searchParams.get('owner') ?? ''
    if (!isDid(owner)) throw new HttpError(400, 'BAD_INPUT', 'owner must be an ed25519 did:key')
    sendJson(res, 200, {objects: listObjects(ctx.store, owner)})
  })
  router.on('GET', /^\/api\/v1\/overview$/, (_req, res) => {
    const peers = ctx.peers.list()
    sendJson(res, 200, {
      did: ctx.identity.did,
      url: ctx.url,
      uptimeS: Math.round((Date.now() - STARTED) / 1000),
      peers: {alive: peers.filter((p) => p.state === 'alive').length, total: peers.length},
      ...storeCounts(ctx.store),
    })
  })
}
