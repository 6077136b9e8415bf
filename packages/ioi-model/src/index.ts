export { IOI_MODEL_FILES, ioiModelUrl } from './ioi-model-location.js';
