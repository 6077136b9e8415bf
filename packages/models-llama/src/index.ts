export { LLAMA_FAMILY, LLAMA_WEIGHT_TABLE, readLlamaConfig } from './llama-family.js';
