/**
 * NAT (draft 002 "NAT-TEST"; issue 4): the dial-back test a peer runs for us
 * (dialback.ts) and the port-mapping probe of the default gateway
 * (port-mapping.ts).
 */
export * from './dialback.js'
export * from './port-mapping.js'
