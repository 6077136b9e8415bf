export { NEOX_FAMILY, NEOX_WEIGHT_TABLE, readNeoXConfig } from './neox-family.js';
