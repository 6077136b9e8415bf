export type { SafetensorsProgressCallback } from './http-source.js';
export type { SafetensorsDtype, WritableSafetensorsDtype } from './safetensors-dtype.js';
export type { FetchSafetensorsOptions } from './safetensors-fetch.js';
export { fetchSafetensors, fetchSafetensorsHeader } from './safetensors-fetch.js';
export {
  readSafetensors,
  readSafetensorsBlob,
  readSafetensorsHeader,
} from './safetensors-reader.js';
export type {
  ReadSafetensorsOptions,
  SafetensorsFile,
  SafetensorsHeader,
  SafetensorsTensor,
  SafetensorsTensorInfo,
} from './safetensors-types.js';
export type {
  SafetensorsTensorInput,
  SafetensorsTensorInputs,
  WriteSafetensorsOptions,
} from './safetensors-writer.js';
export { writeSafetensors } from './safetensors-writer.js';
export { fetchShardedSafetensors } from './sharded-fetch.js';
export type { ShardedSafetensors, ShardedSafetensorsIndex } from './sharded-index.js';
export { parseShardedIndex } from './sharded-index.js';
