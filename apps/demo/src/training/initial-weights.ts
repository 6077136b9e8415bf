import { expectedTensors, type GPT2Config } from '@patchlens/models-gpt2';
import { SeededRandom } from '../ioi/seeded-random.js';

/** A tensor as plain data: shape and row-major float32 values. */
export interface WeightValues {
  readonly shape: readonly number[];
  readonly values: Float32Array;
}

/** Options of {@link initialWeightValues}. */
export interface InitialWeightOptions {
  /** Standard deviation of the token embedding `wte` (default 0.02, GPT-2's). */
  readonly tokenEmbeddingStd?: number;
}

/**
 * Freshly initialised GPT-2 weights as plain data, by Hugging Face name (`wte.weight`,
 * `h.0.attn.c_attn.weight`, ...; no `lm_head.weight`: the unembedding is tied).
 *
 * Token embedding ~ N(0, tokenEmbeddingStd^2); position embedding ~ N(0, 0.02^2); `c_attn` and
 * `c_fc` ~ N(0, 1/dModel); the projections writing to the residual stream (`attn.c_proj`,
 * `mlp.c_proj`) ~ N(0, 1/(fanIn * 2 nLayers)), GPT-2's scaled init; LayerNorm weights 1; biases
 * 0. Values come from {@link SeededRandom} in the order of `expectedTensors(config)`, so the seed
 * fixes every value on every platform.
 *
 * @param config - the model's dimensions.
 * @param seed - the initialisation seed.
 * @param options.tokenEmbeddingStd - default 0.02.
 * @example
 * ```ts
 * const initial = initialWeightValues(config, 1, { tokenEmbeddingStd: 0.1 });
 * initial.get('wte.weight')!.shape; // [dVocab, dModel]
 * ```
 */
export function initialWeightValues(
  config: GPT2Config,
  seed: number,
  options: InitialWeightOptions = {},
): Map<string, WeightValues> {
  const tokenEmbeddingStd = options.tokenEmbeddingStd ?? 0.02;
  const random = new SeededRandom(seed);
  const weights = new Map<string, WeightValues>();
  for (const entry of expectedTensors(config)) {
    if (entry.optional) continue;
    const size = entry.shape.reduce((product, length) => product * length, 1);
    const values = new Float32Array(size);
    let standardDeviation = 0;
    if (entry.slot === 'W_E') standardDeviation = tokenEmbeddingStd;
    else if (entry.slot === 'W_pos') standardDeviation = 0.02;
    else if (entry.slot === 'W_QKV' || entry.slot === 'W_in') {
      standardDeviation = 1 / Math.sqrt(config.dModel);
    } else if (entry.slot === 'W_O' || entry.slot === 'W_out') {
      const fanIn = entry.shape[0] as number;
      standardDeviation = 1 / Math.sqrt(fanIn * 2 * config.nLayers);
    } else if (entry.name.endsWith('.weight')) values.fill(1); // LayerNorm scales
    if (standardDeviation > 0) {
      for (let i = 0; i < size; i++) values[i] = random.nextGaussian() * standardDeviation;
    }
    weights.set(entry.name, { shape: [...entry.shape], values });
  }
  return weights;
}
