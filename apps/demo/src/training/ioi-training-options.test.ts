import { describe, expect, it } from 'vitest';
import { learningRateAt } from './ioi-training-options.js';

const schedule = {
  learningRate: 0.01,
  warmupSteps: 10,
  steps: 110,
  finalLearningRateFraction: 0.1,
};

describe('learningRateAt', () => {
  it('warms up linearly to the peak', () => {
    expect(learningRateAt(schedule, 0)).toBeCloseTo(0.001, 10);
    expect(learningRateAt(schedule, 4)).toBeCloseTo(0.005, 10);
    expect(learningRateAt(schedule, 9)).toBeCloseTo(0.01, 10);
  });

  it('decays along a cosine to the final fraction at the last step', () => {
    expect(learningRateAt(schedule, 10)).toBeCloseTo(0.01, 10);
    // halfway through the decay the cosine term is 1/2: 0.001 + 0.009 / 2
    expect(learningRateAt(schedule, 10 + 99 / 2)).toBeCloseTo(0.0055, 10);
    expect(learningRateAt(schedule, 109)).toBeCloseTo(0.001, 10);
    for (let step = 10; step < 109; step++) {
      expect(learningRateAt(schedule, step + 1)).toBeLessThanOrEqual(
        learningRateAt(schedule, step),
      );
    }
  });
});
