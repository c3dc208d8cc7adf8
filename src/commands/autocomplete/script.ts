import Script from '@oclif/plugin-autocomplete/lib/commands/autocomplete/script.js'

/** `polar autocomplete script SHELL`: the lines a shell's rc file needs (see autocomplete/index.ts). */
export default class extends Script {}
