/**
 * A one-line progress display on stderr, only when stderr is a terminal
 * (CLI.md: progress never pollutes pipes or logs). Redraws at most 10 times a second.
 */
export function progressReporter(label: string, enabled = Boolean(process.stderr.isTTY)): {update: (e: {bytes: number; total?: number}) => void; done: () => void} {
  if (!enabled) return {update: () => {}, done: () => {}}
  let last = 0
  let shown = false
  const start = Date.now()
  const draw = (e: {bytes: number; total?: number}) => {
    const secs = Math.max((Date.now() - start) / 1000, 0.001)
    const rate = formatBytes(e.bytes / secs) + '/s'
    const pct = e.total ? ` ${((100 * e.bytes) / Math.max(e.total, 1)).toFixed(0)}%` : ''
    process.stderr.write(`\r${label} ${formatBytes(e.bytes)}${e.total ? ' / ' + formatBytes(e.total) : ''}${pct}  ${rate}\u001b[K`)
    shown = true
  }
  return {
    update(e) {
      const now = Date.now()
      if (now - last < 100) return
      last = now
      draw(e)
    },
    done() {
      if (shown) process.stderr.write('\r\u001b[K')
    },
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024
    i++
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`
}
