/** Entry for bin/run.js: oclif's runner, bundled together with the commands so it loads once. */
export {execute} from '@oclif/core'
