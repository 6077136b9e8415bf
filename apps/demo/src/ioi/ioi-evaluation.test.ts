import { TEST_BACKENDS, useBackend } from '@patchlens/backends/testing';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { wordTokenizer } from '../test-support/word-tokenizer.js';
import { evaluateIoi } from './ioi-evaluation.js';
import { createIoiSplits, sampleIoiPrompts } from './ioi-splits.js';

const VOCABULARY = 500;

/** A stand-in model: the logit of token v is `sign` times how often v occurs in the row. */
function countingModel(sign: number) {
  return (tokens: tf.Tensor2D): tf.Tensor2D =>
    tf.tidy(() => {
      const counts = tf.sum(tf.oneHot(tokens, VOCABULARY), 1); // [batch, vocab]
      return tf.mul(counts, sign) as tf.Tensor2D;
    });
}

describe.each(TEST_BACKENDS)('evaluateIoi on %s', (backend) => {
  beforeAll(() => useBackend(backend));
  const prompts = sampleIoiPrompts(createIoiSplits().train, 40, 3);

  it('scores a model that copies the name mentioned most: always wrong, difference -1', () => {
    const tokenizer = wordTokenizer();
    const before = tf.memory().numTensors;
    const result = evaluateIoi(countingModel(1), prompts, tokenizer, { batchSize: 7 });
    expect(tf.memory().numTensors).toBe(before);
    expect(result.count).toBe(40);
    expect(result.accuracy).toBe(0);
    expect(result.meanLogitDifference).toBeCloseTo(-1, 6);
    expect(result.logitDifferences).toHaveLength(40);
    expect(result.byOrder['ABBA']?.count).toBe(20);
    const templateCounts = Object.values(result.byTemplate).map((score) => score.count);
    expect(templateCounts.reduce((sum, count) => sum + count, 0)).toBe(40);
  });

  it('scores a model that prefers the name mentioned once: always right, difference 1', () => {
    const result = evaluateIoi(countingModel(-1), prompts, wordTokenizer());
    expect(result.accuracy).toBe(1);
    expect(result.meanLogitDifference).toBeCloseTo(1, 6);
  });

  it('keeps the prompts order in logitDifferences', () => {
    // a model that scores each prompt by its first name: + when the answer comes first (ABBA)
    const tokenizer = wordTokenizer();
    const model = (tokens: tf.Tensor2D): tf.Tensor2D =>
      tf.tidy(() => {
        const first = tf.slice(tokens, [0, 2], [-1, 1]); // [batch, 1]: the first name (BOS, When, A)
        const second = tf.slice(tokens, [0, 4], [-1, 1]); // [batch, 1]: the second name
        return tf.sub(
          tf.sum(tf.oneHot(first, VOCABULARY), 1),
          tf.sum(tf.oneHot(second, VOCABULARY), 1),
        ) as tf.Tensor2D;
      });
    const when = prompts.filter((prompt) => prompt.templateId === 'train-00');
    const result = evaluateIoi(model, when, tokenizer, { batchSize: 3 });
    when.forEach((prompt, index) => {
      expect(result.logitDifferences[index]).toBe(prompt.order === 'ABBA' ? 2 : -2);
    });
  });

  it('rejects a bad batch size and a model returning the wrong batch', () => {
    const tokenizer = wordTokenizer();
    expect(() => evaluateIoi(countingModel(1), prompts, tokenizer, { batchSize: 0 })).toThrow(
      /batchSize/,
    );
    const before = tf.memory().numTensors;
    const broken = (tokens: tf.Tensor2D) =>
      tf.zeros([tokens.shape[0] + 1, VOCABULARY]) as tf.Tensor2D;
    expect(() => evaluateIoi(broken, prompts, tokenizer)).toThrow(/expected \[/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
