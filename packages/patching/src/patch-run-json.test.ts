import { describe, expect, it } from 'vitest';
import { PatchResult } from './patch-result.js';
import { patchRunJson } from './patch-run-json.js';

describe('patchRunJson', () => {
  it('writes the CLI spec layout: model dimensions only, tokens, metric, one entry per sweep', () => {
    const resid = new PatchResult({
      values: new Float32Array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]),
      shape: [2, 3],
      axes: ['layer', 'pos'],
      ms: 12.5,
    });
    const json = patchRunJson({
      model: {
        nLayers: 2,
        nHeads: 4,
        nKeyValueHeads: null,
        dModel: 64,
        dHead: 16,
        dMlp: 256,
        dVocab: 1000,
        nCtx: 64,
      },
      backend: 'wasm',
      tokens: { clean: [[5, 17, 42]], corrupted: [[5, 17, 43]] },
      metric: { name: 'logit-diff', clean: 1.234, corrupted: -0.5 },
      results: { resid_pre: resid },
    });
    // Round-trip through JSON text, as a script reading the file would see it.
    expect(JSON.parse(JSON.stringify(json))).toEqual({
      model: { nLayers: 2, nHeads: 4, dModel: 64, dVocab: 1000, nCtx: 64 },
      backend: 'wasm',
      tokens: { clean: [[5, 17, 42]], corrupted: [[5, 17, 43]] },
      metric: { name: 'logit-diff', clean: 1.234, corrupted: -0.5 },
      patches: {
        resid_pre: {
          axes: ['layer', 'pos'],
          shape: [2, 3],
          values: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6].map(Math.fround),
          ms: 12.5,
        },
      },
    });
  });
});
