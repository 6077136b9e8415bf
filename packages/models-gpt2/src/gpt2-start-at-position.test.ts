import { TEST_BACKENDS, useBackend } from '@patchlens/backends/testing';
import { type ForwardOptions, type PastKeyValue, queryPositionAxis } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GPT2 } from './gpt2.js';
import { loadGPT2FromFolder } from './node.js';
import { maxScaledError } from './test-support/compare.js';
import type { PlainTensor } from './test-support/reference-gpt2.js';
import { TINY_CONFIG } from './test-support/tiny-checkpoint.js';
import { REFERENCE_TOKENS, useTinyReference } from './test-support/tiny-reference.js';

const TOKENS = REFERENCE_TOKENS;
const P = TOKENS[0]!.length;
const TOLERANCE = 1e-5;

const tiny = useTinyReference();
const { ref } = tiny;

/** Entries `start..end-1` of `axis` of a plain tensor (plain loops, independent of tfjs). */
function slicePlain(tensor: PlainTensor, axis: number, start: number, end?: number): PlainTensor {
  const shape = [...tensor.shape];
  const stop = end ?? shape[axis]!;
  const outer = shape.slice(0, axis).reduce((product, extent) => product * extent, 1);
  const inner = shape.slice(axis + 1).reduce((product, extent) => product * extent, 1);
  const extent = shape[axis]!;
  const length = stop - start;
  const data = new Float32Array(outer * length * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < length; i++) {
      const from = (o * extent + start + i) * inner;
      data.set(tensor.data.subarray(from, from + inner), (o * length + i) * inner);
    }
  }
  shape[axis] = length;
  return { shape, data };
}

function fromPlain(tensor: PlainTensor): tf.Tensor {
  return tf.tensor(tensor.data, tensor.shape, 'float32');
}

/** The query-position axis of a hook point (the one table in tensor-hooks). */
const positionAxis = queryPositionAxis;

describe.each(TEST_BACKENDS)('GPT-2 forward with startAtPosition on %s', (backend) => {
  let model: GPT2;

  beforeAll(async () => {
    await useBackend(backend);
    model = await loadGPT2FromFolder(tiny.checkpoint.folder, {
      processWeights: false,
      useAttnResult: true,
    });
  });
  afterAll(() => model.dispose());

  /** The suffix residual entering `layer` and past keys/values before `start`, from the reference. */
  function inputsFrom(layer: number, start: number) {
    const residual = fromPlain(slicePlain(ref(`blocks.${layer}.hook_resid_pre`), 1, start));
    const past: PastKeyValue[] = [];
    for (let block = layer; block < TINY_CONFIG.nLayers; block++) {
      past[block] = {
        key: fromPlain(slicePlain(ref(`blocks.${block}.attn.hook_k`), 1, 0, start)),
        value: fromPlain(slicePlain(ref(`blocks.${block}.attn.hook_v`), 1, 0, start)),
      };
    }
    const dispose = () => {
      residual.dispose();
      for (const entry of past) if (entry) tf.dispose([entry.key, entry.value]);
    };
    return { residual, past, dispose };
  }

  it('every hook point and the logits equal the full pass at positions >= p', () => {
    const before = tf.memory().numTensors;
    for (const layer of [0, 1]) {
      for (const start of [1, 4, P - 1]) {
        const { residual, past, dispose } = inputsFrom(layer, start);
        const { logits, cache } = model.runWithCache(residual, {
          startAtLayer: layer,
          startAtPosition: start,
          pastKeyValues: past,
        });
        const label = `layer ${layer}, position ${start}`;
        expect(logits.shape).toEqual([2, P - start, TINY_CONFIG.dVocab]);
        expect(maxScaledError(logits, slicePlain(tiny.reference.logits, 1, start))).toBeLessThan(
          TOLERANCE,
        );
        const names = cache.keys();
        // blocks before `layer` do not run; every later hook point does
        expect(names.some((name) => name.startsWith(`blocks.${layer - 1}.`))).toBe(false);
        expect(names).toContain(`blocks.${layer}.attn.hook_pattern`);
        expect(cache.get(`blocks.${layer}.attn.hook_pattern`).shape).toEqual([
          2,
          TINY_CONFIG.nHeads,
          P - start,
          P,
        ]);
        for (const name of names) {
          const expected = slicePlain(ref(name), positionAxis(name), start);
          expect
            .soft(maxScaledError(cache.get(name), expected), `${name} (${label})`)
            .toBeLessThan(TOLERANCE);
        }
        // positions of the selection count in the full sequence
        const selected = model.forward(residual, {
          startAtLayer: layer,
          startAtPosition: start,
          pastKeyValues: past,
          unembed: { positions: [-1, start], tokens: [7, 0] },
        });
        const expectedSelected = new Float32Array(2 * 2 * 2);
        for (let row = 0; row < 2; row++) {
          [P - 1, start].forEach((position, entry) => {
            [7, 0].forEach((token, column) => {
              expectedSelected[row * 4 + entry * 2 + column] =
                tiny.reference.logits.data[(row * P + position) * TINY_CONFIG.dVocab + token]!;
            });
          });
        }
        expect(maxScaledError(selected, { shape: [2, 2, 2], data: expectedSelected })).toBeLessThan(
          TOLERANCE,
        );
        // stopAtLayer returns the suffix residual entering that block
        if (layer === 0) {
          const stopped = model.forward(residual, {
            startAtLayer: 0,
            stopAtLayer: 1,
            startAtPosition: start,
            pastKeyValues: past,
          });
          expect(
            maxScaledError(stopped, slicePlain(ref('blocks.1.hook_resid_pre'), 1, start)),
          ).toBeLessThan(TOLERANCE);
          stopped.dispose();
        }
        tf.dispose([logits, selected]);
        cache.dispose();
        dispose();
      }
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('startAtPosition 0 needs no past keys/values and equals startAtLayer alone', () => {
    const residual = fromPlain(ref('blocks.1.hook_resid_pre'));
    const logits = model.forward(residual, { startAtLayer: 1, startAtPosition: 0 });
    expect(maxScaledError(logits, tiny.reference.logits)).toBeLessThan(TOLERANCE);
    tf.dispose([logits, residual]);
  });

  it('rejects bad startAtPosition / pastKeyValues with clear errors and leaks nothing', () => {
    const { residual, past, dispose } = inputsFrom(0, 4);
    const tokens = tf.tensor2d(TOKENS, undefined, 'int32');
    const wrongShape = tf.zeros([2, 3, TINY_CONFIG.nHeads, 4]);
    const disposed = tf.zeros([2, 4, TINY_CONFIG.nHeads, 4]);
    disposed.dispose();
    const base = { startAtLayer: 0, startAtPosition: 4, pastKeyValues: past };
    const cases: [string, tf.Tensor, Record<string, unknown>, RegExp][] = [
      ['negative', residual, { ...base, startAtPosition: -1 }, /startAtPosition is -1; accepted/],
      ['fraction', residual, { ...base, startAtPosition: 1.5 }, /startAtPosition is 1.5/],
      ['past nCtx', residual, { ...base, startAtPosition: 16 }, /accepted: integers 0..15/],
      [
        'beyond the context',
        residual,
        { ...base, startAtPosition: 12 },
        /18 positions \(startAtPosition 12 \+ 6 computed\), more than .* nCtx = 16/,
      ],
      [
        'no startAtLayer',
        tokens,
        { startAtPosition: 4, pastKeyValues: past },
        /needs startAtLayer/,
      ],
      ['no past', residual, { startAtLayer: 0, startAtPosition: 4 }, /pastKeyValues is missing/],
      [
        'missing block',
        residual,
        { ...base, pastKeyValues: [past[0]] },
        /pastKeyValues\[1\] is undefined/,
      ],
      [
        'wrong shape',
        residual,
        { ...base, pastKeyValues: [past[0], { key: wrongShape, value: wrongShape }] },
        /pastKeyValues\[1\]\.key has shape \[2,3,4,4\]; expected \[2,4,4,4\]/,
      ],
      [
        'disposed',
        residual,
        { ...base, pastKeyValues: [past[0], { key: past[1]!.key, value: disposed }] },
        /pastKeyValues\[1\]\.value is a disposed tensor/,
      ],
      [
        'past without start',
        residual,
        { startAtLayer: 0, pastKeyValues: past },
        /pastKeyValues is given without startAtPosition/,
      ],
      [
        'unembed before start',
        residual,
        { ...base, unembed: { positions: [2] } },
        /unembed.positions contains 2, before startAtPosition 4/,
      ],
    ];
    const before = tf.memory().numTensors;
    for (const [label, input, options, message] of cases) {
      expect(() => model.forward(input, options as ForwardOptions), label).toThrow(message);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([tokens, wrongShape]);
    dispose();
  });
});
