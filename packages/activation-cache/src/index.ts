export type { ActivationArray, ActivationCacheOptions } from './activation-cache.js';
export { ActivationCache } from './activation-cache.js';
export { captureActivations } from './capture-activations.js';
