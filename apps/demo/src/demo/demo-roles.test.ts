import { describe, expect, it } from 'vitest';
import type { IoiBatch } from '../ioi/ioi-batch.js';
import { attentionByRole } from './demo-circuit.js';
import { ioiPositionRoles, positionWords, promptRolePositions, roleLabels } from './demo-roles.js';
import { percent } from './demo-summary.js';

// Two prompts of one template, ABBA then BABA (ids stand for tokens):
// A: <bos> Then Mary and John went , John gave to   (IO Mary = 20, S John = 40)
// B: <bos> Then Tom  and Ann  went , Tom  gave to   (IO Ann = 21,  S Tom = 41)
const BATCH = {
  prompts: [],
  clean: [
    [0, 10, 20, 30, 40, 50, 40, 60, 70],
    [0, 10, 41, 30, 21, 50, 41, 60, 70],
  ],
  corrupted: [
    [0, 10, 20, 30, 40, 50, 20, 60, 70],
    [0, 10, 41, 30, 21, 50, 21, 60, 70],
  ],
  answerTokens: [20, 21],
  wrongTokens: [40, 41],
} as unknown as IoiBatch;
const TOKENS = [
  '<|endoftext|>',
  'Then',
  ' Mary',
  ' and',
  ' John',
  ' went',
  ' John',
  ' gave',
  ' to',
];

describe('IOI position roles', () => {
  it('names the roles shared by all prompts, and both roles where the name order alternates', () => {
    const roles = ioiPositionRoles(BATCH, TOKENS);
    expect(roles.map((entry) => entry.role)).toEqual([
      '',
      '',
      'IO/S1',
      '',
      'S1/IO',
      '',
      'S2',
      '',
      'END',
    ]);
    expect(roles.map((entry) => entry.varies)).toEqual([
      false,
      false,
      true,
      false,
      true,
      false,
      true,
      false,
      false,
    ]);
    expect(roleLabels(roles)).toEqual([
      '<|endoftext|>',
      'Then',
      'IO/S1 ␣Mary',
      '␣and',
      'S1/IO ␣John',
      '␣went',
      'S2 ␣John',
      '␣gave',
      'END ␣to',
    ]);
    expect(positionWords(roles, 6)).toBe('S2 (" John" in prompt 1)');
    expect(positionWords(roles, 3)).toBe('position 3 (" and")');
  });

  it('finds each prompt’s own IO, S1, S2 and END', () => {
    expect(promptRolePositions(BATCH)).toEqual([
      { IO: 2, S1: 4, S2: 6, END: 8 },
      { IO: 4, S1: 2, S2: 6, END: 8 },
    ]);
  });

  it('averages attention by role over prompts whose roles sit at different positions', () => {
    const positions = 9;
    const values = new Float32Array(2 * positions * positions);
    const set = (prompt: number, dest: number, src: number, weight: number) => {
      values[(prompt * positions + dest) * positions + src] = weight;
    };
    // from S2 (6): prompt A puts 0.8 on IO (2), 0.1 on S1 (4), 0.1 on BOS
    set(0, 6, 2, 0.8);
    set(0, 6, 4, 0.1);
    set(0, 6, 0, 0.1);
    // prompt B: 0.6 on IO (4), 0.2 on S1 (2), 0.2 on BOS
    set(1, 6, 4, 0.6);
    set(1, 6, 2, 0.2);
    set(1, 6, 0, 0.2);
    const attention = attentionByRole(
      { values, shape: [2, 1, positions, positions] },
      0,
      6,
      promptRolePositions(BATCH),
    );
    expect(attention.IO).toBeCloseTo(0.7, 6);
    expect(attention.S1).toBeCloseTo(0.15, 6);
    expect(attention.BOS).toBeCloseTo(0.15, 6);
    expect(attention.S2).toBe(0);
  });

  it('writes fractions as whole percentages without "-0%"', () => {
    expect(percent(-0.001)).toBe('0%');
    expect(percent(1.014)).toBe('101%');
    expect(percent(-0.25)).toBe('-25%');
  });
});
