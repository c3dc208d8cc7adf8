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

/** A column of the live table: its header, its width in the layout, and its cell text. */
export type WatchColumn = 'state' | 'rtt' | 'seen' | 'did' | 'url' | 'services'

const MIN_WIDTH: Record<WatchColumn, number> = {state: 9, rtt: 10, seen: 11, did: 23, url: 22, services: 12}
const MAX_WIDTH: Record<WatchColumn, number> = {state: 9, rtt: 10, seen: 11, did: 23, url: 34, services: 30}
/** Left out first when the terminal is narrow (issue 19 point 8): services, then the URL, then last seen; state, RTT and did always stay. */
const ELIDE_ORDER: WatchColumn[] = ['services', 'url', 'seen']
const ORDER: WatchColumn[] = ['state', 'rtt', 'seen', 'did', 'url', 'services']

/**
 * The columns that fit `columns` characters, with their widths: every row
 * stays one line shorter than the terminal (a line that wraps is what left
 * stale header lines on screen at each redraw: ink erases the lines it thinks
 * it drew). Spare width goes to the URL, then the services.
 */
export function watchLayout(columns: number): Array<{column: WatchColumn; width: number}> {
  const room = Math.max(columns - 1, 0)
  const shown = new Set<WatchColumn>(ORDER)
  const total = () => [...shown].reduce((n, c) => n + MIN_WIDTH[c], 0)
  for (const c of ELIDE_ORDER) if (total() > room) shown.delete(c)
  const widths = new Map([...shown].map((c) => [c, MIN_WIDTH[c]]))
  let spare = room - total()
  for (const c of ['url', 'services'] as WatchColumn[]) {
    if (!widths.has(c) || spare <= 0) continue
    const add = Math.min(spare, MAX_WIDTH[c] - MIN_WIDTH[c])
    widths.set(c, widths.get(c)! + add)
    spare -= add
  }
  return ORDER.filter((c) => widths.has(c)).map((column) => ({column, width: widths.get(column)!}))
}

const HEADER: Record<WatchColumn, string> = {state: 'STATE', rtt: 'RTT', seen: 'LAST SEEN', did: 'DID', url: 'URL', services: 'SERVICES'}

const STATE_COLOR: Record<string, string> = {alive: 'green', suspect: 'yellow', dead: 'red', gone: 'gray'}

/** Runs the live view until q, Escape or Ctrl-C. */
export async function watchPeers(options: WatchOptions): Promise<void> {
  const [{default: React, useEffect, useState}, ink] = await Promise.all([import('react').then((m) => ({...m, default: m.default ?? m})), import('ink')])
  const {Box, Text, render, useApp, useInput, useStdin, useStdout} = ink
  const h = React.createElement
  const intervalMs = options.intervalMs ?? 1_000

  const cell = (text: string, width: number, props: Record<string, unknown> = {}) =>
    h(Box, {width, flexShrink: 0}, h(Text, {wrap: 'truncate', ...props}, text))

  function PeersView() {
    const {exit} = useApp()
    const {isRawModeSupported} = useStdin()
    const {stdout: out} = useStdout()
    const [size, setSize] = useState({columns: out.columns || 100, rows: out.rows || 40})
    useEffect(() => {
      const resized = () => setSize({columns: out.columns || 100, rows: out.rows || 40})
      out.on('resize', resized)
      return () => {
        out.off('resize', resized)
      }
    }, [])
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
    const layout = watchLayout(size.columns)
    const line = Math.max(size.columns - 1, 1)
    // Title lines are cut to the width too, and the rows to the height: ink cannot erase what scrolled off.
    const room = Math.max(size.rows - 6 - (error ? 1 : 0), 1)
    const visible = rows.length > room ? rows.slice(0, room - 1) : rows
    const text = (t: string, props: Record<string, unknown> = {}) => h(Box, {width: line}, h(Text, {wrap: 'truncate', ...props}, t))
    return h(Box, {flexDirection: 'column'},
      text(`polar peers — ${options.source} — ${live} peer(s): ${counts}`, {bold: true}),
      text(`updated ${updated ? new Date(updated).toLocaleTimeString() : '…'} · every ${intervalMs / 1000}s · q quits`, {dimColor: true}),
      error ? text(`could not read peers: ${error} (retrying)`, {color: 'red'}) : null,
      h(Box, {marginTop: 1}, ...layout.map(({column, width}) => cell(HEADER[column], width, {bold: true}))),
      rows.length === 0 ? text('no peers yet', {dimColor: true}) : null,
      ...visible.map((r) => {
        const gone = r.goneAt !== undefined
        const fresh = !gone && r.firstSeenAt > 0 && now - r.firstSeenAt < CHANGE_MARK_MS
        const state = gone ? 'gone' : r.state
        const dim = {dimColor: gone}
        const cells: Record<WatchColumn, () => ReturnType<typeof cell>> = {
          state: () => cell((fresh ? '+' : gone ? '-' : ' ') + state, 9, {color: STATE_COLOR[state] ?? undefined, bold: fresh}),
          rtt: () => cell(r.rttMs === null || r.rttMs === undefined ? '-' : `${r.rttMs} ms`, 10, dim),
          seen: () => cell(ago(r.lastSeen, now), 11, dim),
          did: () => cell(shortDid(r.did), 23, dim),
          url: () => cell(r.url, layout.find((l) => l.column === 'url')?.width ?? 0, dim),
          services: () => cell(r.services, layout.find((l) => l.column === 'services')?.width ?? 0, dim),
        }
        return h(Box, {key: r.did}, ...layout.map(({column}) => cells[column]()))
      }),
      visible.length < rows.length ? text(`… ${rows.length - visible.length} more (a taller terminal shows them)`, {dimColor: true}) : null,
    )
  }

  const stdout = options.stdout ?? process.stdout
  if (!stdout.columns) (stdout as {columns: number}).columns = 100 // a pseudo-terminal of size 0 (script, some CI) would wrap every character
  const app = render(h(PeersView), {stdout, stdin: options.stdin ?? process.stdin, exitOnCtrlC: true, patchConsole: false})
  await app.waitUntilExit()
}
