// What the bench can read about a running process from /proc, without any
// hook in polar: I/O byte counters, CPU time, memory. Linux only; every reader
// returns null when the file cannot be read (another OS, a process gone).
import {execFileSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {performance} from 'node:perf_hooks'

const read = (path) => {
  try { return readFileSync(path, 'utf8') } catch { return null }
}

/** /proc/PID/io: {rchar, wchar, readBytes, writeBytes} (wchar counts socket writes and sendfile too). */
export function ioOf(pid) {
  const s = read(`/proc/${pid}/io`)
  if (!s) return null
  const f = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? NaN)
  return {rchar: f('rchar'), wchar: f('wchar'), readBytes: f('read_bytes'), writeBytes: f('write_bytes')}
}

let tck
/** Clock ticks per second of /proc/PID/stat's times. */
export function clockTicks() {
  if (tck) return tck
  try { tck = Number(execFileSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}).trim()) || 100 } catch { tck = 100 }
  return tck
}

/** CPU seconds (user + system, all threads) a process has used so far, from /proc/PID/stat. */
export function cpuSecondsOf(pid) {
  const s = read(`/proc/${pid}/stat`)
  if (!s) return null
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const rest = s.slice(s.lastIndexOf(')') + 2).split(' ')
  return (Number(rest[11]) + Number(rest[12])) / clockTicks()
}

/** Memory of a process in MB: /proc/PID/status (RSS and its anonymous/file/shmem parts, threads) and smaps_rollup (PSS). */
export function memoryOf(pid) {
  const s = read(`/proc/${pid}/status`)
  if (!s) return null
  const kb = (text, k) => {
    const m = new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text ?? '')
    return m ? Number(m[1]) / 1024 : null
  }
  const rollup = read(`/proc/${pid}/smaps_rollup`)
  return {
    rss: kb(s, 'VmRSS'), rssAnon: kb(s, 'RssAnon'), rssFile: kb(s, 'RssFile'), rssShmem: kb(s, 'RssShmem'),
    threads: Number(/^Threads:\s+(\d+)/m.exec(s)?.[1] ?? NaN),
    pss: kb(rollup, 'Pss'), pssAnon: kb(rollup, 'Pss_Anon'), pssFile: kb(rollup, 'Pss_File'),
  }
}

/** The pids of a process's children (e.g. nginx's worker under its master). */
export function childrenOf(pid) {
  const s = read(`/proc/${pid}/task/${pid}/children`)
  return s ? s.trim().split(/\s+/).filter(Boolean).map(Number) : []
}

/**
 * Sample a process's wchar every `everyMs` until stop(); stop() resolves the
 * window [start, end] (performance.now() times) in which it wrote more than
 * `threshold` bytes: from the last sample before its count first grew past
 * the threshold to the first sample after it last grew. null when /proc/PID/io
 * is unreadable or it never wrote that much.
 */
export function watchWrites(pids, {everyMs = 10, threshold = 1024 * 1024} = {}) {
  const total = () => {
    let sum = 0
    for (const pid of pids) {
      const io = ioOf(pid)
      if (!io) return null
      sum += io.wchar
    }
    return sum
  }
  const w0 = total()
  if (w0 == null) return {stop: async () => null}
  const samples = [{t: performance.now(), w: w0}]
  const timer = setInterval(() => {
    const w = total()
    if (w != null) samples.push({t: performance.now(), w})
  }, everyMs)
  return {
    async stop() {
      clearInterval(timer)
      const w = total()
      if (w != null) samples.push({t: performance.now(), w})
      const i = samples.findIndex((s) => s.w - w0 > threshold)
      if (i < 0) return null
      const last = samples.at(-1).w
      const j = samples.findIndex((s) => s.w === last)
      return {start: samples[Math.max(0, i - 1)].t, end: samples[j].t, bytes: last - w0}
    },
  }
}
