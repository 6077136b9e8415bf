import { TEST_BACKENDS, useBackend } from '@patchlens/backends/testing';
import { expectedTensors, GPT2Tokenizer } from '@patchlens/models-gpt2';
import { InvalidArgumentError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { IOI_UNSEEN_NAMES } from '../ioi/ioi-vocabulary.js';
import { type IoiTrainingOptions, learningRateAt } from './ioi-training-options.js';
import { ioiCheckpointTensors, trainIoiModel } from './train-ioi-model.js';

const TINY: Partial<IoiTrainingOptions> = {
  nLayers: 1,
  nHeads: 2,
  dModel: 16,
  batchSize: 12,
  steps: 8,
  warmupSteps: 2,
  learningRate: 0.03,
  logEvery: 4,
  pseudoNameCount: 20,
};

describe.each(TEST_BACKENDS)('trainIoiModel on %s', (backend) => {
  beforeAll(() => useBackend(backend));
  const tokenizer = new GPT2Tokenizer();

  it('is deterministic, lowers the loss, reports progress and leaks nothing', () => {
    const before = tf.memory().numTensors;
    const reports: number[] = [];
    const first = trainIoiModel(TINY, tokenizer, (progress) => reports.push(progress.step));
    const second = trainIoiModel(TINY, tokenizer);
    expect(reports).toEqual([4, 8]);
    expect(second.history.map((entry) => entry.loss)).toEqual(
      first.history.map((entry) => entry.loss),
    );
    const firstWeights = first.variables.get('h.0.attn.c_attn.weight')!.dataSync();
    const secondWeights = second.variables.get('h.0.attn.c_attn.weight')!.dataSync();
    expect(Array.from(secondWeights)).toEqual(Array.from(firstWeights));
    expect(first.history[1]!.loss).toBeLessThan(first.history[0]!.loss);
    expect(first.history[1]!.learningRate).toBeCloseTo(learningRateAt(first.settings, 7));
    expect(first.trainingConfig.dVocab).toBe(first.vocabulary.tokenIds.length);
    expect(first.config.dVocab).toBe(50257);
    first.dispose();
    second.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('writes the full vocabulary: trained rows at their ids, initial values elsewhere', () => {
    const before = tf.memory().numTensors;
    const result = trainIoiModel({ ...TINY, steps: 3 }, tokenizer);
    const tensors = ioiCheckpointTensors(result);
    const required = expectedTensors(result.config).filter((entry) => !entry.optional);
    expect([...tensors.keys()].sort()).toEqual(required.map((entry) => entry.name).sort());
    for (const entry of required) expect(tensors.get(entry.name)!.shape).toEqual(entry.shape);
    const width = result.config.dModel;
    const embedding = tensors.get('wte.weight')!.dataSync();
    const trained = result.variables.get('wte.weight')!.dataSync();
    const initial = result.initialTokenEmbedding.values;
    const row = (values: ArrayLike<number>, index: number) =>
      Array.from(values).slice(index * width, (index + 1) * width);
    const unseen = tokenizer.toSingleToken(` ${IOI_UNSEEN_NAMES[0]}`);
    expect(row(embedding, unseen)).toEqual(row(initial, unseen));
    const to = tokenizer.toSingleToken(' to');
    const compactTo = result.vocabulary.compactIdOf.get(to)!;
    expect(row(embedding, to)).toEqual(row(trained, compactTo));
    expect(row(embedding, to)).not.toEqual(row(initial, to));
    tf.dispose([...tensors.values()]);
    result.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('keeps the name stand-ins at their initial values', () => {
    const result = trainIoiModel({ ...TINY, steps: 2, pseudoNameRate: 1 }, tokenizer);
    const width = result.config.dModel;
    const trained = Array.from(result.variables.get('wte.weight')!.dataSync());
    const initial = Array.from(result.initialTokenEmbedding.values);
    const at = (values: number[], index: number) =>
      values.slice(index * width, (index + 1) * width);
    expect(result.vocabulary.pseudoNameIds).toHaveLength(20);
    for (const compactId of result.vocabulary.pseudoNameIds) {
      const id = result.vocabulary.tokenIds[compactId]!;
      expect(at(trained, compactId)).toEqual(at(initial, id));
      expect(tokenizer.toStr([id])).toMatch(/^ [A-Z][a-z]{2,}$/);
    }
    result.dispose();
  });

  it('keeps name embeddings at their initial values when asked', () => {
    const result = trainIoiModel({ ...TINY, steps: 3, freezeNameEmbeddings: true }, tokenizer);
    const width = result.config.dModel;
    const trained = Array.from(result.variables.get('wte.weight')!.dataSync());
    const initial = Array.from(result.initialTokenEmbedding.values);
    const at = (values: number[], index: number) =>
      values.slice(index * width, (index + 1) * width);
    for (const compactId of result.vocabulary.nameIds) {
      const id = result.vocabulary.tokenIds[compactId]!;
      expect(at(trained, compactId)).toEqual(at(initial, id));
    }
    const to = tokenizer.toSingleToken(' to');
    expect(at(trained, result.vocabulary.compactIdOf.get(to)!)).not.toEqual(at(initial, to));
    result.dispose();
  });

  it('rejects a bad step count', () => {
    expect(() => trainIoiModel({ ...TINY, steps: 0 }, tokenizer)).toThrow(InvalidArgumentError);
    expect(() => trainIoiModel({ ...TINY, batchSize: 2.5 }, tokenizer)).toThrow(/batchSize/);
  });
});
