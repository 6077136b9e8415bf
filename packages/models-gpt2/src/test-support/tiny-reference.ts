/** The tiny checkpoint and its plain-TypeScript reference run, shared by the forward tests. */
import { beforeAll } from 'vitest';
import { type PlainTensor, referenceForward } from './reference-gpt2.js';
import { TINY_CONFIG, writeTinyCheckpoint } from './tiny-checkpoint.js';

/** Two prompts of ten tokens (ids < TINY_CONFIG.dVocab). */
export const REFERENCE_TOKENS = [
  [3, 17, 42, 8, 8, 29, 0, 49, 11, 25],
  [49, 1, 2, 33, 40, 5, 6, 17, 30, 12],
];

/** Filled in by the suite's `beforeAll`: the checkpoint on disk and the reference run on it. */
export interface TinyReference {
  checkpoint: Awaited<ReturnType<typeof writeTinyCheckpoint>>;
  reference: ReturnType<typeof referenceForward>;
  /** The reference value of a hook; throws when absent. */
  readonly ref: (name: string) => PlainTensor;
}

/**
 * Registers a `beforeAll` that writes the tiny checkpoint (with mask buffers) and runs the
 * reference forward on {@link REFERENCE_TOKENS}; the returned object is filled in by then.
 */
export function useTinyReference(): TinyReference {
  const tiny = {
    ref: (name: string) => {
      const value = tiny.reference.hooks.get(name);
      if (!value) throw new Error(`no reference for ${name}`);
      return value;
    },
  } as TinyReference;
  beforeAll(async () => {
    tiny.checkpoint = await writeTinyCheckpoint({ maskBuffers: true });
    tiny.reference = referenceForward(TINY_CONFIG, tiny.checkpoint.tensors, REFERENCE_TOKENS);
  });
  return tiny;
}
