import { TEST_BACKENDS, useBackend } from '@patchlens/backends/testing';
import type { GPT2 } from '@patchlens/models-gpt2';
import { afterAll, beforeAll, describe } from 'vitest';
import { defineParitySuite } from './test-support/parity-suite.js';
import { loadTinyGPT2 } from './test-support/tiny-gpt2.js';

const TINY = { nLayers: 2, nHeads: 4, dModel: 32, dVocab: 61, nCtx: 16 };

describe.each(TEST_BACKENDS)('tiny GPT-2 checkpoint (safetensors, processed) on %s', (backend) => {
  let model: GPT2;
  beforeAll(() => useBackend(backend));
  afterAll(() => model?.dispose());
  defineParitySuite(async () => {
    await useBackend(backend);
    model = await loadTinyGPT2(TINY, 3);
    return {
      model,
      cleanIds: [
        [4, 17, 33, 8, 50],
        [9, 2, 41, 27, 13],
      ],
      corruptedIds: [
        [4, 17, 45, 8, 50],
        [9, 30, 41, 27, 13],
      ],
      answers: [12, 7],
      wrong: [20, 3],
      // the fast sweeps run on two worker threads (each with its own model copy) on wasm
      ...(backend === 'wasm' ? { workers: 2 } : {}),
    };
  });
});

describe('tiny GPT-2 checkpoint without weight processing on cpu', () => {
  let model: GPT2;
  beforeAll(() => useBackend('cpu'));
  afterAll(() => model?.dispose());
  defineParitySuite(async () => {
    await useBackend('cpu');
    model = await loadTinyGPT2(TINY, 5, false);
    return {
      model,
      cleanIds: [[1, 2, 3, 4]],
      corruptedIds: [[1, 5, 3, 4]],
      answers: [10],
      wrong: [11],
    };
  });
});
