/**
 * The GPT-2 forward pass against TransformerLens itself: every hook point of the clean cache and
 * the logits TransformerLens 3 wrote for a seeded checkpoint (test/fixtures/transformerlens), with
 * raw and processed weights, on every test backend. An external oracle: the plain-TypeScript
 * reference cannot catch a misreading it shares with the implementation; this can.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TEST_BACKENDS, useBackend } from '@patchlens/backends/testing';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GPT2 } from './gpt2.js';
import { loadGPT2FromFolder } from './node.js';
import {
  type FixtureWeights,
  fixtureError,
  readTransformerLensFixture,
  TRANSFORMERLENS_GPT2_CHECKPOINT,
  TRANSFORMERLENS_GPT2_SHA256,
} from './test-support/transformerlens-fixture.js';

const TOLERANCE = 1e-5;
const WEIGHTS: readonly FixtureWeights[] = ['raw', 'processed'];

/** `[batch, pos, vocab]` -> `[batch, vocab]` at the last position. */
function lastPosition(logits: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [batch, positions, vocab] = logits.shape as [number, number, number];
    return tf.reshape(tf.slice(logits, [0, positions - 1, 0], [batch, 1, vocab]), [batch, vocab]);
  });
}

describe('the TransformerLens fixture', () => {
  it('holds the checkpoint TransformerLens ran (sha256) and 40 hook points per file', () => {
    const bytes = readFileSync(join(TRANSFORMERLENS_GPT2_CHECKPOINT, 'model.safetensors'));
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(TRANSFORMERLENS_GPT2_SHA256);
    for (const weights of WEIGHTS) {
      const fixture = readTransformerLensFixture(weights);
      expect(fixture.cleanCache.size).toBe(40);
      expect(Object.values(fixture.flags).every((flag) => flag === (weights === 'processed'))).toBe(
        true,
      );
    }
  });

  it('stays out of the published package (package.json files)', () => {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    const included = (manifest.files as string[]).filter((entry) => !entry.startsWith('!'));
    expect(included.length).toBeGreaterThan(0);
    for (const entry of included) expect(entry).not.toMatch(/^(\.\/)?(test\b|\.$|\*)/);
  });

  it('tells the TransformerLens 2 and 3 readings of hook_normalized apart (raw weights)', () => {
    // In TL 3, ln_final.hook_normalized is (x - mean) / scale and unembed.hook_in is that times w
    // plus b; with LayerNorm weights far from 1 they differ by far more than the tolerance, so a
    // forward pass that hooks the LayerNorm output fails the comparisons below.
    const { cleanCache } = readTransformerLensFixture('raw');
    const normalized = cleanCache.get('ln_final.hook_normalized')!;
    expect(fixtureError(normalized.data, cleanCache.get('unembed.hook_in')!)).toBeGreaterThan(0.05);
  });
});

describe.each(TEST_BACKENDS)('GPT-2 against TransformerLens 3 on %s', (backend) => {
  describe.each(WEIGHTS)('%s weights', (weights) => {
    const fixture = readTransformerLensFixture(weights);
    let model: GPT2;
    let clean: tf.Tensor2D;
    let corrupted: tf.Tensor2D;

    beforeAll(async () => {
      await useBackend(backend);
      model = await loadGPT2FromFolder(TRANSFORMERLENS_GPT2_CHECKPOINT, {
        processWeights: weights === 'processed',
      });
      clean = tf.tensor2d(fixture.cleanTokens, undefined, 'int32');
      corrupted = tf.tensor2d(fixture.corruptedTokens, undefined, 'int32');
    });
    afterAll(() => {
      model?.dispose();
      tf.dispose([clean, corrupted]);
    });

    it('every hook point of the clean cache and the logits equal TransformerLens', () => {
      const before = tf.memory().numTensors;
      const { logits, cache } = model.runWithCache(clean);
      try {
        expect([...cache.keys()].sort()).toEqual([...fixture.cleanCache.keys()].sort());
        for (const [name, expected] of fixture.cleanCache) {
          expect.soft(fixtureError(cache.get(name), expected), name).toBeLessThan(TOLERANCE);
        }
        const last = lastPosition(logits);
        expect(fixtureError(last, fixture.cleanLogitsLast)).toBeLessThan(TOLERANCE);
        last.dispose();
      } finally {
        cache.dispose();
        logits.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
    });

    it('the corrupted run: last-position logits equal TransformerLens', () => {
      const last = tf.tidy(() => lastPosition(model.forward(corrupted)));
      expect(fixtureError(last, fixture.corruptedLogitsLast)).toBeLessThan(TOLERANCE);
      last.dispose();
    });
  });
});
