import * as tf from '@tensorflow/tfjs-core';
import {
  createDecoderConfig,
  type DecoderConfig,
  type DecoderConfigInput,
} from '../decoder-config.js';
import type { DecoderBlockWeights, DecoderWeights, NormWeights } from '../decoder-weights.js';

/** Seeded standard-normal numbers (Box-Muller over a 32-bit LCG). */
function normals(seed: number) {
  let state = seed >>> 0 || 1;
  const uniform = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state + 0.5) / 2 ** 32;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

/** A small random decoder (scales as the TransformerLens fixtures: matrices 0.3·z, biases 0.1·z, norms 1 + 0.1·z). */
export function randomDecoder(
  input: Partial<DecoderConfigInput> & { biases?: boolean },
  seed = 1,
): { config: DecoderConfig; weights: DecoderWeights } {
  const config = createDecoderConfig({
    nLayers: 2,
    nHeads: 4,
    dModel: 16,
    dMlp: 24,
    dVocab: 20,
    nCtx: 12,
    ...input,
  });
  const z = normals(seed);
  const tensor = (shape: number[], scale: number, offset = 0) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    for (let i = 0; i < size; i++) values[i] = offset + scale * z();
    return tf.tensor(values, shape) as never;
  };
  const { dModel: D, dHead: Dh, nHeads: H, dMlp: M, dVocab: V, nCtx } = config;
  const Hkv = config.nKeyValueHeads ?? H;
  const layerNorm = config.normalizationType === 'LN';
  const norm = (): NormWeights => ({
    w: tensor([D], 0.1, 1),
    b: layerNorm ? tensor([D], 0.1) : null,
  });
  const bias = (size: number) => (input.biases ? tensor([size], 0.1) : null);
  const blocks = Array.from(
    { length: config.nLayers },
    (): DecoderBlockWeights => ({
      ln1: norm(),
      ln2: norm(),
      W_Q: tensor([D, H * Dh], 0.3),
      b_Q: bias(H * Dh),
      W_K: tensor([D, Hkv * Dh], 0.3),
      b_K: bias(Hkv * Dh),
      W_V: tensor([D, Hkv * Dh], 0.3),
      b_V: bias(Hkv * Dh),
      W_O: tensor([H * Dh, D], 0.3),
      b_O: bias(D),
      W_in: tensor([D, M], 0.3),
      b_in: bias(M),
      W_gate: config.gatedMlp ? tensor([D, M], 0.3) : null,
      W_out: tensor([M, D], 0.3),
      b_out: bias(D),
    }),
  );
  return {
    config,
    weights: {
      W_E: tensor([V, D], 0.3),
      W_pos: config.positionalEmbeddingType === 'standard' ? tensor([nCtx, D], 0.3) : null,
      blocks,
      ln_final: norm(),
      W_U: tensor([D, V], 0.3),
      b_U: bias(V),
    },
  };
}
