import { describe, expect, it } from 'vitest';
import { SeededRandom } from '../ioi/seeded-random.js';
import { addWordNoise } from './word-noise.js';

describe('addWordNoise', () => {
  const row = () => [0, 10, 1, 11, 2, 12, 13, 14, 1, 15, 16];
  const names = new Set([1, 2]);
  const pool = [100, 101, 102];

  it('never touches BOS, names or the last token, and replaces about the asked share', () => {
    const random = new SeededRandom(5);
    let replaced = 0;
    let eligible = 0;
    for (let trial = 0; trial < 2000; trial++) {
      const noisy = addWordNoise(row(), names, pool, 0.3, random);
      const original = row();
      expect(noisy[0]).toBe(0);
      expect(noisy[noisy.length - 1]).toBe(16);
      original.forEach((id, position) => {
        if (names.has(id)) expect(noisy[position]).toBe(id);
        else if (position > 0 && position < original.length - 1) {
          eligible += 1;
          if (noisy[position] !== id) {
            replaced += 1;
            expect(pool).toContain(noisy[position]);
          }
        }
      });
    }
    expect(replaced / eligible).toBeGreaterThan(0.27);
    expect(replaced / eligible).toBeLessThan(0.33);
  });

  it('is deterministic in the generator and a no-op at probability 0', () => {
    const a = addWordNoise(row(), names, pool, 0.5, new SeededRandom(1));
    const b = addWordNoise(row(), names, pool, 0.5, new SeededRandom(1));
    expect(a).toEqual(b);
    expect(addWordNoise(row(), names, pool, 0, new SeededRandom(1))).toEqual(row());
  });
});
