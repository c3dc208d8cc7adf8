/** Entry for bin/run.js: `polar pull` through a running node without oclif (src/lib/cli/fast-pull.ts). */
export {fastPull} from './lib/cli/fast-pull.js'
