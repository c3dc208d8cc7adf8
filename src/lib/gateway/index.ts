/**
 * The IPFS trustless gateway on a node's public listener (handler.ts): what
 * a request asks for (negotiate.ts), which blocks a CAR holds over the one
 * DAG walk in content/ (car-blocks.ts), and the CARv1 framing (car.ts).
 */
export {handleGateway, IMMUTABLE_CACHE_CONTROL, type GatewayBlocks, type GatewayOptions} from './handler.js'
export {CAR_VERSION, RAW_MEDIA_TYPE} from './negotiate.js'
export {MAX_WALK_DEPTH} from './car-blocks.js'
export {CAR_MEDIA_TYPE, writeCar, type CarBlock} from './car.js'
