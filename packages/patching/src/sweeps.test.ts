import { describe, expect, it } from 'vitest';
import { PATCHING_FUNCTION_NAMES } from './patching-registry.js';
import { STACKED_SWEEPS, SWEEP_NAMES, SWEEPS } from './sweeps.js';

describe('the SWEEPS table', () => {
  it('each setter fixes one activation axis per index axis after the layer, in increasing order', () => {
    for (const { name, setter, axes } of SWEEPS) {
      expect(setter.activationAxes.length, name).toBe(axes.length - 1);
      expect(
        [...setter.activationAxes].sort((a, b) => a - b),
        name,
      ).toEqual([...setter.activationAxes]);
      expect(axes[0], name).toBe('layer');
    }
  });

  it('drives the registry: exact sweeps then stacks, and every stacked part is a table sweep', () => {
    expect(PATCHING_FUNCTION_NAMES).toEqual([
      ...SWEEP_NAMES,
      ...STACKED_SWEEPS.map((stacked) => stacked.name),
    ]);
    for (const stacked of STACKED_SWEEPS) {
      for (const part of stacked.parts) expect(SWEEP_NAMES).toContain(part.sweep);
    }
  });
});
