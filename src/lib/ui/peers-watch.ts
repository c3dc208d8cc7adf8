/**
 * `polar peers --watch`: a live table of the peer table, redrawn as peers
 * come, change state and go (issue 4). ink and react are imported here and
 * only here, and this module is itself imported only for --watch on a
 * terminal (STYLE.md rule 7), so no other command pays for loading them.
 */

export interface WatchRow {
  did: string
  url: string
  services: string
  lastSeen: number
  rttMs: number | null
  state: string
}

export interface WatchOptions {
  /** Reads the peer list (from the local node, a remote node or the database). */
  load: () => Promise<WatchRow[]>
  /** Milliseconds between polls. */
  intervalMs?: number
  /** Where the node is, for the title line. */
  source: string
  stdout?: NodeJS.WriteStream
  stdin?: NodeJS.ReadStream
}

/** A peer that just arrived is marked for this long; one that left stays, marked gone, as long. */
export const CHANGE_MARK_MS = 5_000

interface ShownRow extends WatchRow {
  firstSeenAt: number
  goneAt?: number
}

/** Merges a fresh poll into what is shown: new peers are marked, vanished ones kept a moment as gone. */
export function mergeRows(shown: ShownRow[], fresh: WatchRow[], now: number, first: boolean): ShownRow[] {
  const before = new Map(shown.map((r) => [r.did, r]))
  const out: ShownRow[] = fresh.map((r) => ({...r, firstSeenAt: before.get(r.did)?.goneAt === undefined ? (before.get(r.did)?.firstSeenAt ?? (first ? 0 : now)) : now}))
  const present = new Set(fresh.map((r) => r.did))
  for (const r of shown) {
    if (present.has(r.did)) continue
    const goneAt = r.goneAt ?? now
    if (now - goneAt < CHANGE_MARK_MS) out.push({...r, goneAt})
  }
  return out.sort((a, b) => a.did.localeCompare(b.did))
}

export function ago(ms: number, now = Date.now()): string {
  if (!ms) return '-'
  const s = Math.max(0, Math.round((now - ms) / 1000))
  if (s < 60) return `${s}s ago`
  if (s < 3600) return `${Math.floor(s / 60)}m ago`
  return `${Math.floor(s / 3600)}h ago`
}

function shortDid(did: string): string {
  return did.length > 24 ? `${did.slice(0, 14)}…${did.slice(-6)}` : did
}

const STATE_COLOR: Record<string, string> = {alive: 'green', suspect: 'yellow', dead: 'red', gone: 'gray'}

/** Runs the live view until q, Escape or Ctrl-C. */
export async function watchPeers(options: WatchOptions): Promise<void> {
  const [{default: React, useEffect, useState}, ink] = await Promise.all([import('react').then((m) => ({...m, default: m.default ?? m})), import('ink')])
  const {Box, Text, render, useApp, useInput, useStdin} = ink
  const h = React.createElement
  const intervalMs = options.intervalMs ?? 1_000

  const cell = (text: string, width: number, props: Record<string, unknown> = {}) =>
    h(Box, {width, flexShrink: 0}, h(Text, {wrap: 'truncate', ...props}, text))

  function PeersView() {
    const {exit} = useApp()
    const {isRawModeSupported} = useStdin()
    const [rows, setRows] = useState<ShownRow[]>([])
    const [error, setError] = useState<string | null>(null)
    const [updated, setUpdated] = useState<number>(0)
    const [, tick] = useState(0)

    useInput((input, key) => {
      if (input === 'q' || key.escape || (key.ctrl && input === 'c')) exit()
    }, {isActive: Boolean(isRawModeSupported)})

    useEffect(() => {
      let stopped = false
      let first = true
      const poll = async () => {
        try {
          const fresh = await options.load()
          if (stopped) return
          const now = Date.now()
          setRows((shown) => mergeRows(shown, fresh, now, first))
          first = false
          setError(null)
          setUpdated(now)
        } catch (err) {
          if (!stopped) setError((err as Error).message)
        }
      }
      poll()
      const t = setInterval(() => {
        poll()
        tick((n) => n + 1) // "last seen" ages even when nothing changes
      }, intervalMs)
      return () => {
        stopped = true
        clearInterval(t)
      }
    }, [])

    const now = Date.now()
    const counts = ['alive', 'suspect', 'dead'].map((s) => `${rows.filter((r) => r.goneAt === undefined && r.state === s).length} ${s}`).join(', ')
    const live = rows.filter((r) => r.goneAt === undefined).length
    return h(Box, {flexDirection: 'column'},
      h(Text, {bold: true}, `polar peers — ${options.source} — ${live} peer(s): ${counts}`),
      h(Text, {dimColor: true}, `updated ${updated ? new Date(updated).toLocaleTimeString() : '…'} · every ${intervalMs / 1000}s · q quits`),
      error ? h(Text, {color: 'red'}, `could not read peers: ${error} (retrying)`) : null,
      h(Box, {marginTop: 1},
        cell('STATE', 9, {bold: true}), cell('RTT', 10, {bold: true}), cell('LAST SEEN', 11, {bold: true}),
        cell('DID', 23, {bold: true}), cell('URL', 28, {bold: true}), cell('SERVICES', 24, {bold: true})),
      rows.length === 0 ? h(Text, {dimColor: true}, 'no peers yet') : null,
      ...rows.map((r) => {
        const gone = r.goneAt !== undefined
        const fresh = !gone && r.firstSeenAt > 0 && now - r.firstSeenAt < CHANGE_MARK_MS
        const state = gone ? 'gone' : r.state
        const dim = {dimColor: gone}
        return h(Box, {key: r.did},
          cell((fresh ? '+' : gone ? '-' : ' ') + state, 9, {color: STATE_COLOR[state] ?? undefined, bold: fresh}),
          cell(r.rttMs === null || r.rttMs === undefined ? '-' : `${r.rttMs} ms`, 10, dim),
          cell(ago(r.lastSeen, now), 11, dim),
          cell(shortDid(r.did), 23, dim),
          cell(r.url, 28, dim),
          cell(r.services, 24, dim))
      }),
    )
  }

  const stdout = options.stdout ?? process.stdout
  if (!stdout.columns) (stdout as {columns: number}).columns = 100 // a pseudo-terminal of size 0 (script, some CI) would wrap every character
  const app = render(h(PeersView), {stdout, stdin: options.stdin ?? process.stdin, exitOnCtrlC: true, patchConsole: false})
  await app.waitUntilExit()
}
