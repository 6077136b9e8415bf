import { describe, expect, it } from 'vitest';
import { batchReporter, type FinishedBatch } from './batch-reporter.js';
import type { PatchJob } from './patch-job.js';

const job = (slot: number) => ({ slot }) as PatchJob;

describe('batchReporter', () => {
  it('reports each written value once, in whatever order the engine wrote them', () => {
    const output = new Float32Array([7, 7, 7, 7, 7, 7]); // slot 5: not a job (e.g. padding)
    const batches: FinishedBatch[] = [];
    const report = batchReporter(output, [0, 1, 2, 3, 4].map(job), (batch) => batches.push(batch));
    expect(Array.from(output.subarray(0, 5)).every(Number.isNaN)).toBe(true);
    expect(output[5]).toBe(7);
    report(); // progress before any value (a planning step): nothing to report
    expect(batches).toHaveLength(0);
    output[3] = 0.5;
    output[1] = -1;
    report();
    output[0] = 0; // zero is a value, not "pending"
    output[4] = 2;
    output[2] = 3;
    report();
    report();
    expect(batches.map((batch) => [Array.from(batch.indices), Array.from(batch.values)])).toEqual([
      [
        [1, 3],
        [-1, 0.5],
      ],
      [
        [0, 2, 4],
        [0, 3, 2],
      ],
    ]);
  });
});
