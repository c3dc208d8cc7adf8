import type {CID} from 'multiformats/cid'
import {CODEC_DELTA, CODEC_DELTA_GZIP, CODEC_GZIP, MIN_SAVING} from './constants.js'
import {type BaseIndex, encodeDelta, remapScript} from './delta.js'
import {encodeDeltaBlock, encodeGzip} from './block.js'

export interface BaseBlock {
  cid: CID
  index: BaseIndex
}

export interface Encoded {
  codec: number
  bytes: Uint8Array
  /** The bases the block needs (delta codecs only). */
  bases: CID[]
}

/**
 * The smallest worthwhile encoding of `bytes`: a delta against `window` (with
 * gzip on top when smaller), else gzip, else undefined (store it raw). An
 * encoding must save at least 5% (MIN_SAVING) to be kept.
 */
export function encodeBest(bytes: Uint8Array, window: BaseBlock[] = [], options: {gzip?: boolean} = {}): Encoded | undefined {
  const budget = Math.floor(bytes.length * MIN_SAVING) - 64 - window.length * 40
  if (window.length > 0 && budget > 0) {
    const d = encodeDelta(bytes, window.map((b) => b.index), budget)
    if (d) {
      const map: number[] = []
      const bases: CID[] = []
      d.used.forEach((u, i) => {
        if (u) {
          map[i] = bases.length
          bases.push(window[i].cid)
        }
      })
      if (bases.length > 0) {
        const script = bases.length === window.length ? d.script : remapScript(d.script, map)
        const enc = encodeDeltaBlock(bytes.length, bases, script)
        return {codec: enc[0] === CODEC_DELTA_GZIP ? CODEC_DELTA_GZIP : CODEC_DELTA, bytes: enc, bases}
      }
    }
  }
  if (options.gzip === false) return undefined
  const gz = encodeGzip(bytes)
  return gz ? {codec: CODEC_GZIP, bytes: gz, bases: []} : undefined
}
