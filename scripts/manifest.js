// Writes oclif.manifest.json from the built commands, as `oclif manifest` would,
// without the heavy `oclif` dev tool: @oclif/core's Plugin builds the manifest
// itself when told to ignore the existing one.
import {Plugin} from '@oclif/core'
import {renameSync, writeFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const plugin = new Plugin({root, type: 'core', ignoreManifest: true, errorOnManifestCreate: true})
await plugin.load()
// Commands in id order: oclif lists them in the order their files load, which
// varies between machines and runs, and the committed file must not.
const manifest = {...plugin.manifest, commands: Object.fromEntries(Object.entries(plugin.manifest.commands).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))}
// Written aside and renamed: a polar starting meanwhile reads the old manifest or the new, never half of one.
const path = fileURLToPath(new URL('../oclif.manifest.json', import.meta.url))
writeFileSync(`${path}.${process.pid}.tmp`, JSON.stringify(manifest, null, 2) + '\n')
renameSync(`${path}.${process.pid}.tmp`, path)
console.error(`oclif.manifest.json: ${Object.keys(manifest.commands).length} commands`)
