/**
 * `patchlens cache` against TransformerLens itself: on the checkpoint TransformerLens ran
 * (packages/models-gpt2/test/fixtures/transformerlens), every hook point written to the
 * .safetensors file — the LayerNorms' hook_normalized and unembed.hook_in/hook_out included —
 * equals TransformerLens's `run_with_cache`, with raw (`--no-process-weights`) and processed weights.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initNodeBackend } from '@patchlens/backends/node';
import { readSafetensorsFile } from '@patchlens/safetensors/node';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  fixtureError,
  readTransformerLensFixture,
  TRANSFORMERLENS_GPT2_CHECKPOINT,
} from '../../models-gpt2/src/test-support/transformerlens-fixture.js';
import { runCli } from './test-support/run-cli.js';

const TOLERANCE = 1e-5;
let output: string;

beforeAll(async () => {
  await initNodeBackend('cpu');
  output = await mkdtemp(join(tmpdir(), 'patchlens-cli-tl-'));
});

describe('patchlens cache equals TransformerLens on every hook point', () => {
  it.each([
    ['raw', ['--no-process-weights']],
    ['processed', []],
  ] as const)('%s weights', async (weights, flags) => {
    const fixture = readTransformerLensFixture(weights);
    const out = join(output, `${weights}.safetensors`);
    const ids = fixture.cleanTokens.flatMap((row) => ['--ids', row.join(',')]);
    const result = await runCli([
      'cache',
      '--model',
      TRANSFORMERLENS_GPT2_CHECKPOINT,
      '--backend',
      'cpu',
      ...ids,
      ...flags,
      '--out',
      out,
    ]);
    expect(result.code, result.stderr).toBe(0);
    const file = await readSafetensorsFile(out);
    expect([...file.tensors.keys()].sort()).toEqual(
      [...fixture.cleanCache.keys(), 'logits'].sort(),
    );
    for (const [name, expected] of fixture.cleanCache) {
      const tensor = file.tensors.get(name)!;
      expect
        .soft(fixtureError(tensor.data as Float32Array, expected, tensor.shape), name)
        .toBeLessThan(TOLERANCE);
    }
    const logits = file.tensors.get('logits')!;
    const outLogits = fixture.cleanCache.get('unembed.hook_out')!;
    expect(fixtureError(logits.data as Float32Array, outLogits, logits.shape)).toBeLessThan(
      TOLERANCE,
    );
  });
});
