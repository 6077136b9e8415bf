import { TEST_BACKENDS, useBackend } from '@patchlens/backends/testing';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { GPT2 } from './gpt2.js';
import { createGPT2Config } from './gpt2-config.js';
import { randomGPT2Checkpoint } from './random-checkpoint.js';

const INPUT = { nLayers: 2, nHeads: 4, dModel: 32, dVocab: 50, nCtx: 16 };
const TOKENS = [
  [3, 14, 15, 9, 26],
  [5, 35, 8, 9, 7],
];

function maxAbsDifference(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

describe.each(TEST_BACKENDS)('useSplitQkvInput on %s', (backend) => {
  beforeAll(() => useBackend(backend));

  it.each([true, false])(
    'gives the same logits and activations as without it (processed weights: %s)',
    (processWeights) => {
      const tensors = randomGPT2Checkpoint(INPUT, { seed: 8 });
      using plain = GPT2.fromWeights(createGPT2Config(INPUT), tensors, { processWeights });
      using split = GPT2.fromWeights(createGPT2Config(INPUT), tensors, {
        processWeights,
        useSplitQkvInput: true,
      });
      expect(plain.hookNames).not.toContain('blocks.0.hook_q_input');
      expect(split.hookNames.slice(2, 6)).toEqual([
        'blocks.0.hook_resid_pre',
        'blocks.0.hook_q_input',
        'blocks.0.hook_k_input',
        'blocks.0.hook_v_input',
      ]);
      const tokens = tf.tensor2d(TOKENS, undefined, 'int32');
      const before = tf.memory().numTensors;
      const a = plain.runWithCache(tokens);
      const b = split.runWithCache(tokens);
      try {
        expect(maxAbsDifference(a.logits, b.logits)).toBeLessThan(1e-4);
        for (const name of ['q', 'k', 'v', 'z', 'pattern'].map((n) => `blocks.1.attn.hook_${n}`)) {
          expect(maxAbsDifference(a.cache.get(name), b.cache.get(name))).toBeLessThan(1e-5);
        }
        // [B, P, H, D]: every head's input is a copy of the residual stream entering the block
        const residPre = a.cache.get('blocks.1.hook_resid_pre');
        for (const input of ['q', 'k', 'v']) {
          const perHead = b.cache.get(`blocks.1.hook_${input}_input`);
          expect(perHead.shape).toEqual([2, 5, 4, 32]);
          const expected = tf.tidy(() => tf.tile(tf.expandDims(residPre, 2), [1, 1, 4, 1]));
          expect(maxAbsDifference(perHead, expected)).toBe(0);
          expected.dispose();
        }
        // TransformerLens runs ln1 once per input, per head: hook_scale [B, P, H, 1]
        expect(b.cache.get('blocks.0.ln1.hook_scale').shape).toEqual([2, 5, 4, 1]);
      } finally {
        tf.dispose([a.logits, b.logits]);
        a.cache.dispose();
        b.cache.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
      tokens.dispose();
    },
  );

  it("patching one head's query input changes only that head's query", () => {
    using model = GPT2.fromWeights(
      createGPT2Config(INPUT),
      randomGPT2Checkpoint(INPUT, { seed: 9 }),
      {
        useSplitQkvInput: true,
      },
    );
    const tokens = tf.tensor2d(TOKENS, undefined, 'int32');
    const { logits: clean, cache } = model.runWithCache(tokens, {
      namesFilter: /blocks\.1\.attn\.hook_[qk]$/,
    });
    const head = 2;
    const mask = tf.tensor(
      [0, 1, 2, 3].map((h) => (h === head ? 1 : 0)),
      [1, 1, 4, 1],
      'bool',
    );
    const changed = model.hooks.withHooks(
      [
        [
          'blocks.1.hook_q_input',
          (input) => tf.where(mask, tf.mul(input, tf.linspace(0.5, 1.5, 32)), input),
        ],
      ],
      () => model.runWithCache(tokens, { namesFilter: /blocks\.1\.attn\.hook_[qk]$/ }),
    );
    try {
      const q0 = cache.get('blocks.1.attn.hook_q');
      const q1 = changed.cache.get('blocks.1.attn.hook_q');
      const perHead = tf.tidy(() =>
        tf.max(tf.abs(tf.sub(q0, q1)), [0, 1, 3]).arraySync(),
      ) as number[];
      perHead.forEach((difference, h) => {
        if (h === head) expect(difference).toBeGreaterThan(1e-3);
        else expect(difference).toBe(0);
      });
      expect(
        maxAbsDifference(
          cache.get('blocks.1.attn.hook_k'),
          changed.cache.get('blocks.1.attn.hook_k'),
        ),
      ).toBe(0);
    } finally {
      tf.dispose([clean, changed.logits, mask, tokens]);
      cache.dispose();
      changed.cache.dispose();
    }
  });
});
