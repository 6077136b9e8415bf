import { writeSafetensors } from '@patchlens/safetensors';
import { createGPT2Config, type GPT2ConfigInput, gpt2ConfigToHuggingFace } from './gpt2-config.js';

/** One tensor of a random checkpoint, as plain data. */
export interface RandomTensor {
  readonly shape: number[];
  readonly data: Float32Array;
}

/** Options of {@link randomGPT2Checkpoint}. */
export interface RandomCheckpointOptions {
  /** Seed of the generator; the same seed gives the same weights (default 1234). */
  readonly seed?: number;
  /** Multiplies the value biases (the last third of `c_attn.bias`; default 1). */
  readonly valueBiasScale?: number;
  /** Also make an untied `lm_head.weight` (default false: unembedding tied to `wte`). */
  readonly lmHead?: boolean;
}

/** Seeded standard normal samples: mulberry32 uniforms through Box-Muller. */
function seededNormal(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => {
    const u = Math.max(uniform(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  };
}

/**
 * Seeded random GPT-2 weights under their Hugging Face names (`wte.weight`,
 * `h.{i}.attn.c_attn.weight`, ...), scaled so activations stay O(1): weights ~ N(0, 1/fan_in)
 * (`c_attn` 1.5x), biases ~ N(0, 0.1²…0.3²), LayerNorm weights ~ 1 + N(0, 0.2²) and biases
 * ~ N(0, 0.2²), `wte` ~ N(0, 1), `wpe` ~ N(0, 0.25). For tests, benchmarks and trying PatchLens
 * offline; random weights show no behaviour worth interpreting.
 *
 * @param input - the dimensions (as for `createGPT2Config`).
 * @param options.seed - generator seed (default 1234).
 * @param options.valueBiasScale - factor on the value biases (default 1).
 * @param options.lmHead - add an untied `lm_head.weight` (default false).
 * @example
 * ```ts
 * const tensors = randomGPT2Checkpoint({ nLayers: 2, nHeads: 4, dModel: 16, dVocab: 50, nCtx: 16 });
 * const model = GPT2.fromWeights(createGPT2Config({ nLayers: 2, nHeads: 4, dModel: 16, dVocab: 50, nCtx: 16 }), tensors);
 * ```
 */
export function randomGPT2Checkpoint(
  input: GPT2ConfigInput,
  options: RandomCheckpointOptions = {},
): Map<string, RandomTensor> {
  const { nLayers, dModel: D, dMlp: M, dVocab: V, nCtx } = createGPT2Config(input);
  const normal = seededNormal(options.seed ?? 1234);
  const make = (shape: number[], fill: () => number): RandomTensor => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = fill();
    return { shape, data };
  };
  const weight = (rows: number, columns: number, scale = 1) =>
    make([rows, columns], () => (normal() * scale) / Math.sqrt(rows));
  const bias = (size: number, scale: number) => make([size], () => normal() * scale);
  const lnWeight = (size: number) => make([size], () => 1 + 0.2 * normal());
  const tensors = new Map<string, RandomTensor>();
  tensors.set('wte.weight', make([V, D], normal));
  tensors.set(
    'wpe.weight',
    make([nCtx, D], () => 0.5 * normal()),
  );
  for (let layer = 0; layer < nLayers; layer++) {
    const prefix = `h.${layer}`;
    tensors.set(`${prefix}.ln_1.weight`, lnWeight(D));
    tensors.set(`${prefix}.ln_1.bias`, bias(D, 0.2));
    tensors.set(`${prefix}.attn.c_attn.weight`, weight(D, 3 * D, 1.5));
    const qkvBias = bias(3 * D, 0.3);
    const valueBiasScale = options.valueBiasScale ?? 1;
    for (let i = 2 * D; i < 3 * D; i++) qkvBias.data[i]! *= valueBiasScale;
    tensors.set(`${prefix}.attn.c_attn.bias`, qkvBias);
    tensors.set(`${prefix}.attn.c_proj.weight`, weight(D, D));
    tensors.set(`${prefix}.attn.c_proj.bias`, bias(D, 0.1));
    tensors.set(`${prefix}.ln_2.weight`, lnWeight(D));
    tensors.set(`${prefix}.ln_2.bias`, bias(D, 0.2));
    tensors.set(`${prefix}.mlp.c_fc.weight`, weight(D, M));
    tensors.set(`${prefix}.mlp.c_fc.bias`, bias(M, 0.2));
    tensors.set(`${prefix}.mlp.c_proj.weight`, weight(M, D));
    tensors.set(`${prefix}.mlp.c_proj.bias`, bias(D, 0.1));
  }
  tensors.set('ln_f.weight', lnWeight(D));
  tensors.set('ln_f.bias', bias(D, 0.2));
  if (options.lmHead) tensors.set('lm_head.weight', make([V, D], normal));
  return tensors;
}

/**
 * A random checkpoint as the files of a Hugging Face folder: `config.json` and
 * `model.safetensors` bytes. Write them to a folder, serve them, or pass them as blobs to
 * `GPT2.fromPretrained`.
 *
 * @example
 * ```ts
 * const files = randomGPT2CheckpointFiles({ nLayers: 2, nHeads: 4, dModel: 16, dVocab: 50, nCtx: 16 });
 * const model = await GPT2.fromPretrained(Object.fromEntries([...files].map(([n, b]) => [n, new Blob([b])])));
 * ```
 */
export function randomGPT2CheckpointFiles(
  input: GPT2ConfigInput,
  options: RandomCheckpointOptions = {},
): Map<string, Uint8Array<ArrayBuffer>> {
  const config = createGPT2Config(input);
  return new Map([
    ['config.json', new TextEncoder().encode(JSON.stringify(gpt2ConfigToHuggingFace(config)))],
    [
      'model.safetensors',
      writeSafetensors(randomGPT2Checkpoint(input, options), { metadata: { format: 'pt' } }),
    ],
  ]);
}
