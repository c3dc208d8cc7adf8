/**
 * The plain tables of `polar peers`, `search` and `ls` (issue 19 point 8):
 * a header row, then one row per item, the same columns either way. On a
 * terminal the columns are padded to line up (two spaces between them); off a
 * terminal (a pipe, a file) every line is the cells joined by one tab, so
 * `cut -f`, `awk -F'\t'` and `column -t -s$'\t'` read it whatever a name holds
 * (docs/cli.md "Tables"). Tabs and newlines inside a cell become spaces, so a
 * name can never add a column or a row. No dependency: this loads on every
 * listing.
 */
export interface TableOptions {
  /** Pad to align (a terminal); otherwise tab-separated. */
  aligned: boolean
  /** Columns (by index) padded on the left: numbers read right-aligned. */
  right?: number[]
}

function clean(cell: string): string {
  return cell.replace(/[\t\r\n]+/g, ' ')
}

/** Display width of a string: code points (polar's cells are ASCII except names; a wide glyph may misalign, never break a column). */
function width(s: string): number {
  return [...s].length
}

export function formatTable(header: string[], rows: string[][], options: TableOptions): string[] {
  const all = [header, ...rows].map((r) => r.map(clean))
  if (!options.aligned) return all.map((r) => r.join('\t'))
  const widths = header.map((_, i) => Math.max(...all.map((r) => width(r[i] ?? ''))))
  const right = new Set(options.right ?? [])
  return all.map((r) =>
    r
      .map((c, i) => {
        const pad = ' '.repeat(widths[i] - width(c))
        if (i === r.length - 1 && !right.has(i)) return c // no trailing blanks
        return right.has(i) ? pad + c : c + pad
      })
      .join('  '),
  )
}
