/**
 * The node: `polar serve`. PolarNode composes the store, the node identity,
 * the peer protocol (public listener), the local API (unix socket) and the
 * background loops; the other modules are its parts.
 */
export {PolarNode, parseListen, socketIsLive, DEFAULT_LISTEN, SOCKET_NAME, type NodeOptions, type ReadyInfo} from './node.js'
export {DEFAULT_SETTINGS, type NodeSettings, type NodeContext} from './context.js'
export {PeerTable, type Peer, type PeerState} from './peer-table.js'
export {rankNodes} from './placement.js'
export {placeReplicas, repairOnce} from './replicator.js'
