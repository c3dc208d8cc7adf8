/**
 * The small collaborators node modules take (the js-libp2p "components"
 * habit, ../shared/STYLE.md): each module states the few it uses in its own
 * `…Components` interface, built from these, so a unit test passes fakes.
 * The node (node.ts, the composition root) passes one object that has them all.
 */
import type {PeerClient} from '../net/peer/index.js'

export type Log = (message: string) => void

/** A pooled client for a peer's public API; one from the table is dialled at its `address` only. */
export type ClientFor = (peer: {url: string; address?: string | null}) => PeerClient

/** Runs `work` as in-flight work that shutdown waits for. */
export type Track = <T>(work: Promise<T>) => Promise<T>
