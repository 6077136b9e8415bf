import { InvalidArgumentError } from '@patchlens/tensor-hooks';
import { type DecoderConfig, keyValueHeads } from './decoder-config.js';

/**
 * Number of weight parameters of a decoder with this config (the unembedding counted unless
 * `tiedEmbeddings`; linear biases left out). Llama-2-7B: 6 738 415 616, as published.
 *
 * @example
 * ```ts
 * parameterCount(config, { tiedEmbeddings: false });
 * ```
 */
export function parameterCount(
  config: DecoderConfig,
  options: { tiedEmbeddings: boolean },
): number {
  const { dModel: D, dHead: Dh, nHeads: H, dMlp: M, dVocab: V, nLayers: L, nCtx } = config;
  const Hkv = keyValueHeads(config);
  const attention = D * H * Dh * 2 + D * Hkv * Dh * 2;
  const mlp = D * M * (config.gatedMlp ? 3 : 2);
  const layerNorm = config.normalizationType === 'LN' || config.normalizationType === 'LNPre';
  const norms = (layerNorm ? 2 : 1) * D * (2 * L + 1); // ln1, ln2 per block + ln_final (biases ignored)
  const embeddings = V * D * (options.tiedEmbeddings ? 1 : 2);
  const positions = config.positionalEmbeddingType === 'standard' ? nCtx * D : 0;
  return L * (attention + mlp) + norms + embeddings + positions;
}

/** Bytes of float32 memory a backend can give weights (wasm: one 4 GiB heap). */
export const WASM_MEMORY_BYTES = 4 * 1024 ** 3;

/**
 * Throws before any weight is allocated when the float32 weights of this config cannot fit the
 * wasm backend's 4 GiB memory (weights + processing copies + activations: ~1.4x the weights).
 * Other backends are limited by the device; no check.
 *
 * @throws InvalidArgumentError with the parameter count, the bytes needed and what to do.
 * @example
 * ```ts
 * checkModelFits(config, { tiedEmbeddings: false, backend: tf.getBackend() });
 * ```
 */
export function checkModelFits(
  config: DecoderConfig,
  options: { tiedEmbeddings: boolean; backend: string; where: string },
): void {
  if (options.backend !== 'wasm') return;
  const parameters = parameterCount(config, options);
  const bytes = parameters * 4;
  if (bytes * 1.4 > WASM_MEMORY_BYTES) {
    throw new InvalidArgumentError(
      `${options.where}: ${config.originalArchitecture} with ${(parameters / 1e6).toFixed(0)}M parameters needs ${(bytes / 1024 ** 3).toFixed(2)} GiB of float32 weights (about ${((bytes * 1.4) / 1024 ** 3).toFixed(2)} GiB with working memory), more than the wasm backend's 4 GiB. On wasm, float32 models up to ~700M parameters load; use webgpu (browser) or tfjs-node for larger ones.`,
    );
  }
}
