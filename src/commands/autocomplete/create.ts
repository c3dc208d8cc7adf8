import Create from '@oclif/plugin-autocomplete/lib/commands/autocomplete/create.js'

/** `polar autocomplete create`: writes the completion scripts to the cache (see autocomplete/index.ts). */
export default class extends Create {}
