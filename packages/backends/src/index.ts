export type { BackendName, BackendPreference } from './backend-names.js';
export { BACKEND_PREFERENCES } from './backend-names.js';
export type { WebGPUAdapterLike, WebGPUAdapterSummary } from './webgpu-adapter.js';
export {
  activeWebGPUAdapter,
  formatWebGPUAdapter,
  summarizeWebGPUAdapter,
} from './webgpu-adapter.js';
