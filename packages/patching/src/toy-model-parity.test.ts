import { TEST_BACKENDS, useBackend } from '@patchlens/backends/testing';
import { afterAll, beforeAll, describe } from 'vitest';
import { defineParitySuite } from './test-support/parity-suite.js';
import { TOY_CONFIG, ToyAttentionModel } from './test-support/toy-attention-model.js';

describe.each(TEST_BACKENDS)('toy grouped-query attention model on %s', (backend) => {
  let model: ToyAttentionModel;
  beforeAll(() => useBackend(backend));
  afterAll(() => model?.dispose());
  defineParitySuite(async () => {
    await useBackend(backend);
    model = new ToyAttentionModel(TOY_CONFIG, 11);
    return {
      model,
      cleanIds: [
        [1, 5, 9, 3, 7],
        [2, 4, 6, 8, 10],
      ],
      corruptedIds: [
        [1, 5, 12, 3, 7],
        [2, 14, 6, 8, 10],
      ],
      answers: [3, 7],
      wrong: [5, 2],
    };
  });
});
