import { describe, expect, it } from 'vitest';
import { assignPasses, type PatchFacts, planSweep, type SweepPlanInput } from './sweep-plan.js';

const CONFIG = { nLayers: 4, dModel: 16, dMlp: 64, nHeads: 4, dHead: 4 };

/** resid_pre-like facts: one patch per (layer, pos), layer-major. */
function residFacts(
  positions: number,
  unchanged: (layer: number, pos: number) => boolean = () => false,
): PatchFacts[] {
  const facts: PatchFacts[] = [];
  for (let layer = 0; layer < CONFIG.nLayers; layer++) {
    for (let pos = 0; pos < positions; pos++) {
      facts.push({
        startLayer: layer,
        firstChangedPosition: pos,
        unchanged: unchanged(layer, pos),
      });
    }
  }
  return facts;
}

function input(overrides: Partial<SweepPlanInput>): SweepPlanInput {
  return {
    patches: residFacts(6),
    config: CONFIG,
    batch: 2,
    positions: 6,
    firstReadPosition: 5,
    logitsPerRow: 2,
    memoryBudgetBytes: 64 * 1024 * 1024,
    batchSize: undefined,
    maxPatchesPerForward: 32,
    workers: 1,
    ...overrides,
  };
}

describe('planSweep', () => {
  it('runs every patch that changes something in exactly one pass, and lists the rest as skipped', () => {
    const patches = residFacts(6, (layer, pos) => pos < 2 || (layer === 0 && pos === 4));
    const plan = planSweep(input({ patches, batchSize: 3 }));
    const planned = plan.passes.flatMap((pass) => pass.patches).sort((a, b) => a - b);
    const skipped = plan.skipped.map((entry) => entry.patch);
    expect(skipped).toEqual(patches.flatMap((facts, patch) => (facts.unchanged ? [patch] : [])));
    expect(plan.skipped.every((entry) => entry.reason === 'clean-equals-corrupted')).toBe(true);
    expect([...planned, ...skipped].sort((a, b) => a - b)).toEqual(patches.map((_, i) => i));
    for (const pass of plan.passes) {
      expect(pass.patches.length).toBeLessThanOrEqual(3);
      // one start layer per pass; it starts at its earliest patch's position
      for (const patch of pass.patches) {
        expect(patches[patch]!.startLayer).toBe(pass.startLayer);
        expect(patches[patch]!.firstChangedPosition).toBeGreaterThanOrEqual(pass.startPosition);
      }
      expect(pass.startPosition).toBe(
        Math.min(...pass.patches.map((patch) => patches[patch]!.firstChangedPosition)),
      );
    }
  });

  it('caps start positions at the first position the metric reads, and starts at 0 without one', () => {
    const capped = planSweep(input({ firstReadPosition: 3 }));
    expect(Math.max(...capped.passes.map((pass) => pass.startPosition))).toBe(3);
    expect(capped.keyValueLayers).toEqual([0, 1, 2, 3]);
    const none = planSweep(input({ firstReadPosition: undefined }));
    expect(none.passes.every((pass) => pass.startPosition === 0)).toBe(true);
    expect(none.keyValueLayers).toEqual([]);
    expect(none.residualLayers).toEqual([0, 1, 2, 3]);
  });

  it('patches that cannot start at a block run from the tokens, first', () => {
    const patches: PatchFacts[] = [
      { startLayer: 2, firstChangedPosition: 0, unchanged: false },
      { startLayer: undefined, firstChangedPosition: 3, unchanged: false },
    ];
    const plan = planSweep(input({ patches }));
    expect(plan.passes.map((pass) => [pass.startLayer, pass.startPosition])).toEqual([
      [undefined, 0],
      [2, 0],
    ]);
    expect(plan.residualLayers).toEqual([2]);
  });

  it('counts the captured corrupted run against the budget and refuses a sweep that cannot fit', () => {
    const roomy = planSweep(input({}));
    expect(roomy.patchesPerForward).toBe(32);
    const { capturedBytes, bytesPerReplica } = roomy.memory;
    // residuals of 4 blocks and keys/values of 4 blocks, [2, 6, 16] each, float32
    expect(capturedBytes).toBe(4 * 2 * 6 * 16 * (4 + 2 * 4));
    const tight = planSweep(input({ memoryBudgetBytes: capturedBytes + 3 * bytesPerReplica }));
    expect(tight.patchesPerForward).toBe(3);
    expect(tight.memory.peakBytes).toBeLessThanOrEqual(capturedBytes + 3 * bytesPerReplica);
    expect(() => planSweep(input({ memoryBudgetBytes: capturedBytes }))).toThrow(
      /needs 1 MiB but the memory budget is 0 MiB; raise memoryBudgetBytes \(--memory-budget\) or patch fewer positions/,
    );
    expect(() =>
      planSweep(
        input({
          memoryBudgetBytes: 2 ** 30,
          heap: { name: 'wasm', limitBytes: 2 ** 32, fixedBytes: 2 ** 32 - capturedBytes },
        }),
      ),
    ).toThrow(/the wasm heap holds at most 4096 MiB; .*GPU backend/);
  });

  it('gives every worker passes, balanced by cost, each pass to one worker', () => {
    const plan = planSweep(input({ patches: residFacts(6), workers: 2 }));
    expect(plan.workerPasses).toHaveLength(2);
    const all = plan.workerPasses.flat().sort((a, b) => a - b);
    expect(all).toEqual(plan.passes.map((_, i) => i));
    const loads = plan.workerPasses.map((list) =>
      list.reduce((sum, pass) => sum + plan.passes[pass]!.cost, 0),
    );
    const total = loads[0]! + loads[1]!;
    const largest = Math.max(...plan.passes.map((pass) => pass.cost));
    expect(Math.max(...loads)).toBeLessThanOrEqual(total / 2 + largest);
    // at least two passes per worker
    expect(plan.passes.length).toBeGreaterThanOrEqual(4);
  });

  it('assignPasses: longest first to the least loaded worker', () => {
    expect(assignPasses([5, 4, 3, 3, 3], 2)).toEqual([
      [0, 3],
      [1, 2, 4],
    ]);
    expect(assignPasses([1, 2], 4)).toEqual([[1], [0], [], []]);
  });
});
