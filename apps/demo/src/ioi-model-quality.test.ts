// Quality gate of the committed IOI checkpoint (packages/ioi-model/model), loaded like any GPT-2 checkpoint.

import { readFile, stat } from 'node:fs/promises';
import { useBackend } from '@patchlens/backends/testing';
import { ioiModelFolder } from '@patchlens/ioi-model/node';
import type { GPT2 } from '@patchlens/models-gpt2';
import { loadGPT2FromFolder } from '@patchlens/models-gpt2/node';
import { readSafetensorsFileHeader } from '@patchlens/safetensors/node';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  evaluateIoi,
  ioiEvaluationPrompts,
  type LastPositionLogits,
} from './ioi/ioi-evaluation.js';
import { createIoiSplits } from './ioi/ioi-splits.js';

const MODEL_FOLDER = ioiModelFolder;
const PROMPTS = 1000;

/** Full-vocabulary logits at the last position, `[batch, 50257]`. */
function lastLogits(model: GPT2): LastPositionLogits {
  return (tokens) =>
    tf.tidy(() =>
      tf.squeeze(model.forward(tokens, { unembed: { positions: [-1] } }), [1]),
    ) as tf.Tensor2D;
}

describe('the committed IOI model (packages/ioi-model/model)', () => {
  let model: GPT2;
  const splits = createIoiSplits();

  beforeAll(async () => {
    await useBackend('wasm');
    model = await loadGPT2FromFolder(MODEL_FOLDER);
  });
  afterAll(() => model?.dispose());

  it('is a tied GPT-2 checkpoint in F16 of at most 10 MB', async () => {
    const config = JSON.parse(await readFile(`${MODEL_FOLDER}config.json`, 'utf8'));
    expect(config.model_type).toBe('gpt2');
    expect(config.vocab_size).toBe(50257);
    const header = await readSafetensorsFileHeader(`${MODEL_FOLDER}model.safetensors`);
    expect(header.tensors.has('lm_head.weight')).toBe(false);
    expect(header.tensors.get('wte.weight')?.dtype).toBe('F16');
    expect((await stat(`${MODEL_FOLDER}model.safetensors`)).size).toBeLessThanOrEqual(10_000_000);
    expect(model.config.dVocab).toBe(50257);
  });

  it('solves held-out IOI prompts (held-out templates, name pairs never seen together)', () => {
    const prompts = ioiEvaluationPrompts(splits, 'heldOut', PROMPTS);
    const result = evaluateIoi(lastLogits(model), prompts, model.tokenizer);
    expect(result.count).toBe(PROMPTS);
    expect(result.accuracy).toBeGreaterThanOrEqual(0.95);
    expect(result.meanLogitDifference).toBeGreaterThanOrEqual(3);
    for (const score of Object.values(result.byOrder)) expect(score.accuracy).toBeGreaterThan(0.9);
  });

  // Names it never saw: not part of the 95% gate (see the model card); this guards against regressions.
  it('mostly solves prompts with two names never seen in training', () => {
    const prompts = ioiEvaluationPrompts(splits, 'unseenNames', PROMPTS);
    const result = evaluateIoi(lastLogits(model), prompts, model.tokenizer);
    expect(result.accuracy).toBeGreaterThanOrEqual(0.9);
    expect(result.meanLogitDifference).toBeGreaterThanOrEqual(3);
  });

  it.each(['heldOut', 'unseenNames'] as const)(
    'reports the measured %s numbers in its model card',
    async (name) => {
      const card = await readFile(`${MODEL_FOLDER}README.md`, 'utf8');
      const prompts = ioiEvaluationPrompts(splits, name, PROMPTS);
      const result = evaluateIoi(lastLogits(model), prompts, model.tokenizer);
      const row = card.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
      expect(row).toContain(`| ${(100 * result.accuracy).toFixed(1)}% |`);
      expect(row).toContain(`| ${result.meanLogitDifference.toFixed(2)} |`);
    },
  );
});
