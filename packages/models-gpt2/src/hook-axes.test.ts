import { useBackend } from '@patchlens/backends/testing';
import { hookAxes, positionAxes, queryPositionAxis } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GPT2 } from './gpt2.js';
import { loadGPT2FromFolder } from './node.js';
import { TINY_CONFIG, writeTinyCheckpoint } from './test-support/tiny-checkpoint.js';

// The table in @patchlens/tensor-hooks is checked here against what the GPT-2 forward produces:
// each axis name maps to an extent taken from the config, not from the table.
describe('HOOK_AXES matches the GPT-2 activations', () => {
  let model: GPT2;
  beforeAll(async () => {
    await useBackend('cpu');
    const { folder } = await writeTinyCheckpoint();
    model = await loadGPT2FromFolder(folder, { processWeights: false, useAttnResult: true });
  });
  afterAll(() => model.dispose());

  it('every hook point has the axes and extents the table names', () => {
    const [batch, positions] = [2, 5];
    const tokens = tf.tensor2d([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [batch, positions], 'int32');
    const { logits, cache } = model.runWithCache(tokens);
    const config = model.config;
    expect(new Set([batch, positions, config.nHeads]).size).toBe(3); // axis order shows
    const extent = {
      batch,
      pos: positions,
      query_pos: positions,
      key_pos: positions,
      head: config.nHeads,
      key_value_head: config.nKeyValueHeads ?? config.nHeads,
      d_model: config.dModel,
      d_head: config.dHead,
      d_mlp: config.dMlp,
      d_vocab: config.dVocab,
      one: 1,
    };
    let checked = 0;
    for (const name of model.hookNames) {
      if (!cache.has(name)) continue;
      expect(cache.get(name).shape, name).toEqual(hookAxes(name).map((axis) => extent[axis]));
      checked++;
    }
    expect(checked).toBeGreaterThan(TINY_CONFIG.nLayers * 15);
    tf.dispose([tokens, logits]);
    cache.dispose();
  });

  it('names the position axes of patterns and of per-position activations', () => {
    expect(queryPositionAxis('blocks.1.attn.hook_pattern')).toBe(2);
    expect(positionAxes('blocks.1.attn.hook_attn_scores')).toEqual([2, 3]);
    expect(positionAxes('blocks.0.attn.hook_z')).toEqual([1]);
    expect(() => hookAxes('blocks.0.hook_nothing')).toThrow(/not a hook point/);
  });
});
