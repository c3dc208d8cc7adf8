/** The peer protocol's version and service string (GET /v1/hello; docs/protocol.md). */
export const PROTOCOL_VERSION = 1
export const SERVICES = 'polar/1'
/** A CID in a route's path (checked by parseCid after the match). */
export const CID_RE = '([A-Za-z0-9]{1,200})'
