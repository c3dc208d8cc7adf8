import {closeSync, constants, fstatSync, openSync, promises as fsp} from 'node:fs'
import {Socket} from 'node:net'
import type {Writable} from 'node:stream'
import {InputError} from '../errors.js'

/** How often to look again for a reader of a FIFO that has none yet (`cat > fifo` waits the same way). */
const FIFO_POLL_MS = 50

/**
 * `-o` onto a FIFO or a device (output-target.ts): bytes are written straight
 * into it, the way a shell's `> /dev/null` or `> fifo` does, and nothing is
 * created, renamed or removed.
 *
 * A FIFO is opened without blocking (O_NONBLOCK: ENXIO while no reader has
 * it open; polled until one does or `signal` aborts) and then written
 * through libuv's pipe handle, so a node that writes into a FIFO for a
 * client holds no thread while it waits for a slow or absent reader. A
 * reader that goes away ends the pull quietly, as on stdout. A device is
 * written through a file handle (fsynced at the end when it is a block
 * device).
 */
export class DirectOutput {
  bytes = 0
  readerGone = false

  private constructor(readonly path: string, private readonly socket: Socket | undefined, private readonly handle: fsp.FileHandle | undefined, private readonly block: boolean) {}

  static async open(path: string, kind: 'fifo' | 'device', signal?: AbortSignal): Promise<DirectOutput> {
    if (kind === 'fifo') {
      const fd = await openFifo(path, signal)
      if (!fstatSync(fd).isFIFO()) {
        closeSync(fd)
        throw changed(path)
      }
      const socket = new Socket({fd, readable: false, writable: true})
      socket.on('error', () => {}) // reported by the write that meets it (writeOut)
      return new DirectOutput(path, socket, undefined, false)
    }
    const handle = await fsp.open(path, constants.O_WRONLY | constants.O_NOCTTY)
    const st = await handle.stat()
    if (!st.isCharacterDevice() && !st.isBlockDevice()) {
      await handle.close()
      throw changed(path)
    }
    return new DirectOutput(path, undefined, handle, st.isBlockDevice())
  }

  /** Writes a chunk; false when a FIFO's reader went away (nothing more is written then). */
  async write(chunk: Uint8Array): Promise<boolean> {
    if (this.socket) {
      if (!(await writeOut(this.socket, chunk))) {
        this.readerGone = true
        return false
      }
    } else {
      for (let off = 0; off < chunk.length;) off += (await this.handle!.write(chunk, off, chunk.length - off)).bytesWritten
    }
    this.bytes += chunk.length
    return true
  }

  async commit(): Promise<void> {
    if (this.socket) {
      if (!this.readerGone) await new Promise<void>((resolve) => this.socket!.end(resolve))
      this.socket.destroy()
      return
    }
    if (this.block) await this.handle!.sync()
    await this.handle!.close()
  }

  async discard(): Promise<void> {
    if (this.socket) this.socket.destroy()
    else await this.handle!.close().catch(() => {})
  }
}

async function openFifo(path: string, signal?: AbortSignal): Promise<number> {
  for (;;) {
    signal?.throwIfAborted()
    try {
      return openSync(path, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOCTTY)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENXIO') throw err
    }
    await new Promise((resolve) => setTimeout(resolve, FIFO_POLL_MS))
  }
}

function changed(path: string): InputError {
  return new InputError(`output ${path} changed while it was being opened; run the pull again`)
}

/** Writes with back-pressure; false when the reader went away (EPIPE: `polar pull X | head`). */
export function writeOut(stream: Writable, chunk: Uint8Array): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' ? resolve(false) : reject(err))
    stream.once('error', onError)
    const ok = stream.write(chunk, (err) => {
      if (!err) {
        stream.off('error', onError)
        if (ok) resolve(true)
      }
    })
    if (!ok) stream.once('drain', () => { stream.off('error', onError); resolve(true) })
  })
}
