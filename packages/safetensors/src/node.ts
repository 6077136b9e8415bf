// Node entry point of @patchlens/safetensors: file and folder readers/writers (uses node:fs).
// The main entry ('@patchlens/safetensors') imports nothing platform-specific.
export type { ReadShardedSafetensorsOptions } from './safetensors-file.js';
export {
  readSafetensorsFile,
  readSafetensorsFileHeader,
  readShardedSafetensors,
  writeSafetensorsFile,
} from './safetensors-file.js';
