import type {Via} from '../api/search-trust.js'
import type {Store} from '../store/store.js'
import type {Target} from './base-command.js'

/** The search/trust view of a command target. */
export async function viaOf(target: Target, openStore: (home: string) => Promise<Store>): Promise<Via> {
  if (target.kind === 'local') return {kind: 'local', client: target.client}
  if (target.kind === 'remote') return {kind: 'remote', url: target.url}
  return {kind: 'embedded', store: await openStore(target.home)}
}

/** The did of the home's `default` identity, if it has one (search ranks by its trust). */
export async function defaultDid(home: string): Promise<string | undefined> {
  const {KeyStore} = await import('../identity/index.js')
  return new KeyStore(home).didOf()
}
