import {InputError} from '../errors.js'
import {isDid} from '../identity/index.js'

/** Bounds on a search request, so a hostile query stays cheap. */
export const MAX_QUERY_CHARS = 256
export const MAX_TERMS = 16
export const MAX_TERM_CHARS = 64
export const MAX_TAG_FILTERS = 8
export const DEFAULT_LIMIT = 20
export const MAX_LIMIT = 100

export interface SearchQuery {
  /** Lower-case words; each matches as a prefix of a word of the name, a tag or the media type. */
  terms: string[]
  /** Exact tags every result must carry. */
  tags: string[]
  /** Only records signed by this did. */
  owner?: string
  limit: number
}

/**
 * The words of a query the way FTS5's unicode61 tokenizer sees them: runs of
 * letters and digits, case- and accent-folded. Everything else (quotes,
 * operators, parentheses, `*`, `:`) separates words, so user text can never
 * become FTS syntax.
 */
export function words(text: string): string[] {
  return text.normalize('NFKD').replace(/\p{M}+/gu, '').toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 0)
}

/** Checks and normalises a query from the CLI or a peer; InputError (exit 2 / 400) when out of bounds. */
export function parseQuery(input: {query?: string; tags?: string[]; owner?: string; limit?: number}): SearchQuery {
  const text = input.query ?? ''
  if (typeof text !== 'string' || text.length > MAX_QUERY_CHARS) throw new InputError(`a search query is at most ${MAX_QUERY_CHARS} characters`)
  if (!text.isWellFormed()) throw new InputError('the search query is not well-formed Unicode')
  const terms = [...new Set(words(text))]
  if (terms.length > MAX_TERMS) throw new InputError(`a search query has at most ${MAX_TERMS} words`)
  if (terms.some((t) => t.length > MAX_TERM_CHARS)) throw new InputError(`a search word is at most ${MAX_TERM_CHARS} characters`)
  const tags = [...new Set((input.tags ?? []).map((t) => String(t).trim()).filter(Boolean))]
  if (tags.length > MAX_TAG_FILTERS) throw new InputError(`at most ${MAX_TAG_FILTERS} --tag filters`)
  if (tags.some((t) => t.length > 64 || !t.isWellFormed())) throw new InputError('a --tag filter is at most 64 characters')
  if (input.owner !== undefined && !isDid(input.owner)) throw new InputError(`--owner is not an ed25519 did:key: ${JSON.stringify(String(input.owner).slice(0, 80))}`)
  const limit = input.limit ?? DEFAULT_LIMIT
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new InputError(`--limit must be an integer from 1 to ${MAX_LIMIT}`)
  return {terms, tags, owner: input.owner, limit}
}

/**
 * The FTS5 MATCH expression: each word a quoted prefix term (`"word"*`),
 * all required, in the name, tags and mime columns. Quotes inside a term
 * are doubled (FTS5 string syntax), though words() never leaves any.
 */
export function ftsExpression(terms: string[]): string {
  return `{name tags mime} : (${terms.map((t) => `"${t.replaceAll('"', '""')}"*`).join(' AND ')})`
}

/**
 * How well a record matches the words, computed from the verified record
 * itself (never from a peer's claim), so results from every node rank on
 * one scale: per word, 3 for a whole word of the name (2 for a prefix), 2
 * for a whole tag word (1.5 for a prefix), 1 for the media type. 0 means no
 * match. With no words every record is relevance 1.
 */
export function relevance(record: {name: string; tags: string[]; mime: string}, terms: string[]): number {
  if (terms.length === 0) return 1
  const nameWords = words(record.name)
  const tagWords = record.tags.flatMap(words)
  const mimeWords = words(record.mime)
  let total = 0
  for (const t of terms) {
    const best = Math.max(
      nameWords.includes(t) ? 3 : nameWords.some((w) => w.startsWith(t)) ? 2 : 0,
      tagWords.includes(t) ? 2 : tagWords.some((w) => w.startsWith(t)) ? 1.5 : 0,
      mimeWords.some((w) => w.startsWith(t)) ? 1 : 0,
    )
    if (best === 0) return 0 // every word is required (FTS AND)
    total += best
  }
  return total
}

/** Whether a verified record satisfies the whole query (what a peer's answer must do, or be dropped). */
export function matches(record: {name: string; tags: string[]; mime: string; owner: string}, q: SearchQuery): boolean {
  if (q.owner !== undefined && record.owner !== q.owner) return false
  if (!q.tags.every((t) => record.tags.includes(t))) return false
  return relevance(record, q.terms) > 0
}
