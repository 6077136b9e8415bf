import { createGPT2Config, expectedTensors } from '@patchlens/models-gpt2';
import { describe, expect, it } from 'vitest';
import { initialWeightValues } from './initial-weights.js';

const config = createGPT2Config({ nLayers: 2, nHeads: 2, dModel: 32, nCtx: 8, dVocab: 300 });

function standardDeviation(values: Float32Array): number {
  const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
  return Math.sqrt(values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / values.length);
}

describe('initialWeightValues', () => {
  it('has every required Hugging Face tensor with its shape, and no lm_head', () => {
    const weights = initialWeightValues(config, 1);
    const required = expectedTensors(config).filter((entry) => !entry.optional);
    expect([...weights.keys()]).toEqual(required.map((entry) => entry.name));
    for (const entry of required) {
      const weight = weights.get(entry.name)!;
      expect(weight.shape).toEqual(entry.shape);
      expect(weight.values.length).toBe(entry.shape.reduce((a, b) => a * b, 1));
    }
    expect(weights.has('lm_head.weight')).toBe(false);
  });

  it('is the same for the same seed and differs for another', () => {
    const a = initialWeightValues(config, 7).get('h.1.attn.c_attn.weight')!.values;
    const b = initialWeightValues(config, 7).get('h.1.attn.c_attn.weight')!.values;
    const c = initialWeightValues(config, 8).get('h.1.attn.c_attn.weight')!.values;
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
  });

  it('uses the documented scales', () => {
    const weights = initialWeightValues(config, 3, { tokenEmbeddingStd: 0.1 });
    expect(standardDeviation(weights.get('wte.weight')!.values)).toBeCloseTo(0.1, 2);
    expect(standardDeviation(weights.get('wpe.weight')!.values)).toBeCloseTo(0.02, 2);
    expect(standardDeviation(weights.get('h.0.mlp.c_fc.weight')!.values)).toBeCloseTo(
      1 / Math.sqrt(32),
      2,
    );
    expect(standardDeviation(weights.get('h.0.mlp.c_proj.weight')!.values)).toBeCloseTo(
      1 / Math.sqrt(128 * 4),
      2,
    );
    expect(Array.from(weights.get('h.0.ln_1.weight')!.values).every((v) => v === 1)).toBe(true);
    expect(Array.from(weights.get('h.0.ln_1.bias')!.values).every((v) => v === 0)).toBe(true);
    expect(Array.from(weights.get('h.0.attn.c_attn.bias')!.values).every((v) => v === 0)).toBe(
      true,
    );
    expect(standardDeviation(initialWeightValues(config, 3).get('wte.weight')!.values)).toBeCloseTo(
      0.02,
      3,
    );
  });
});
