// Child process for compact.test.ts: compacts the packs of POLAR_HOME = argv[2],
// saying "start" first so the parent can SIGKILL it part way.
import {compactPacks} from '../../src/lib/store/compact.js'
import {openStore} from '../../src/lib/store/store.js'

const store = openStore(process.argv[2])
process.stdout.write('start\n')
const r = await compactPacks(store.blocks, {minDeadBytes: 1, deadRatio: 0.1})
// Said before closing: a kill after this line did not interrupt the compaction (the test counts those apart).
process.stdout.write(JSON.stringify(r) + '\n')
store.close()
