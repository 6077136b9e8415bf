import { InvalidArgumentError } from '@patchlens/tensor-hooks';
import { describe, expect, it } from 'vitest';
import { createIoiSplits, sampleIoiPrompts } from './ioi-splits.js';
import { IOI_HELD_OUT_TEMPLATES, IOI_TRAINING_TEMPLATES } from './ioi-templates.js';
import { IOI_TRAINING_NAMES, IOI_UNSEEN_NAMES } from './ioi-vocabulary.js';

const key = (a: string, b: string) => [a, b].sort().join('+');

describe('IOI vocabulary', () => {
  it('has 100 training names and 20 unseen names, all distinct', () => {
    expect(IOI_TRAINING_NAMES).toHaveLength(100);
    expect(IOI_UNSEEN_NAMES).toHaveLength(20);
    expect(new Set([...IOI_TRAINING_NAMES, ...IOI_UNSEEN_NAMES]).size).toBe(120);
  });

  it('has held-out templates that are not training templates', () => {
    const training = new Set(IOI_TRAINING_TEMPLATES.map((template) => template.pattern));
    for (const template of IOI_HELD_OUT_TEMPLATES)
      expect(training.has(template.pattern)).toBe(false);
  });
});

describe('createIoiSplits', () => {
  const splits = createIoiSplits();

  it('partitions the training names pairs into train and held-out pairs', () => {
    const train = new Set(splits.train.pairs.map(([a, b]) => key(a, b)));
    const heldOut = new Set(splits.heldOut.pairs.map(([a, b]) => key(a, b)));
    expect(train.size).toBe(splits.train.pairs.length);
    expect(heldOut.size).toBe(495);
    for (const pair of heldOut) expect(train.has(pair)).toBe(false);
    expect(train.size + heldOut.size).toBe((100 * 99) / 2);
  });

  it('still shows every training name in training, and no unseen name', () => {
    const trainNames = new Set(splits.train.pairs.flat());
    expect(trainNames).toEqual(new Set(IOI_TRAINING_NAMES));
    for (const name of IOI_UNSEEN_NAMES) expect(trainNames.has(name)).toBe(false);
  });

  it('uses held-out templates for the held-out and unseen-name splits', () => {
    expect(splits.train.templates).toBe(IOI_TRAINING_TEMPLATES);
    expect(splits.heldOut.templates).toBe(IOI_HELD_OUT_TEMPLATES);
    expect(splits.unseenNames.templates).toBe(IOI_HELD_OUT_TEMPLATES);
    expect(splits.mixedNames.templates).toBe(IOI_HELD_OUT_TEMPLATES);
    expect(new Set(splits.unseenNames.pairs.flat())).toEqual(new Set(IOI_UNSEEN_NAMES));
    expect(splits.unseenNamesTrainingTemplates.templates).toBe(IOI_TRAINING_TEMPLATES);
    expect(splits.unseenNamesTrainingTemplates.pairs).toEqual(splits.unseenNames.pairs);
    for (const [seen, unseen] of splits.mixedNames.pairs) {
      expect(IOI_TRAINING_NAMES).toContain(seen);
      expect(IOI_UNSEEN_NAMES).toContain(unseen);
    }
  });

  it('is deterministic in the seed', () => {
    expect(createIoiSplits().heldOut.pairs).toEqual(splits.heldOut.pairs);
    expect(createIoiSplits({ seed: 2 }).heldOut.pairs).not.toEqual(splits.heldOut.pairs);
  });

  it('rejects a fraction outside (0, 1)', () => {
    expect(() => createIoiSplits({ heldOutPairFraction: 1 })).toThrow(InvalidArgumentError);
    expect(() => createIoiSplits({ heldOutPairFraction: 0 })).toThrow(/heldOutPairFraction/);
  });
});

describe('sampleIoiPrompts', () => {
  const splits = createIoiSplits();

  it('gives the same prompts for the same seed', () => {
    expect(sampleIoiPrompts(splits.train, 50, 9)).toEqual(sampleIoiPrompts(splits.train, 50, 9));
    expect(sampleIoiPrompts(splits.train, 50, 9)).not.toEqual(
      sampleIoiPrompts(splits.train, 50, 10),
    );
  });

  it('balances ABBA and BABA and draws names from the split pairs only', () => {
    const prompts = sampleIoiPrompts(splits.heldOut, 400, 1);
    const pairs = new Set(splits.heldOut.pairs.map(([a, b]) => key(a, b)));
    const templates = new Set(IOI_HELD_OUT_TEMPLATES.map((template) => template.id));
    expect(prompts.filter((prompt) => prompt.order === 'ABBA')).toHaveLength(200);
    for (const prompt of prompts) {
      expect(pairs.has(key(prompt.indirectObject, prompt.subject))).toBe(true);
      expect(templates.has(prompt.templateId)).toBe(true);
    }
    // both roles occur: the first name of a stored pair is sometimes the answer, sometimes not
    const stored = new Map(splits.heldOut.pairs.map(([a, b]) => [key(a, b), a]));
    const firstIsAnswer = prompts.filter(
      (prompt) => stored.get(key(prompt.indirectObject, prompt.subject)) === prompt.indirectObject,
    ).length;
    expect(firstIsAnswer).toBeGreaterThan(150);
    expect(firstIsAnswer).toBeLessThan(250);
    expect(new Set(prompts.map((prompt) => prompt.templateId)).size).toBe(3);
  });

  it('continues a SeededRandom stream across calls', async () => {
    const { SeededRandom } = await import('./seeded-random.js');
    const random = new SeededRandom(4);
    const first = sampleIoiPrompts(splits.train, 5, random);
    const second = sampleIoiPrompts(splits.train, 5, random);
    expect(first).not.toEqual(second);
  });

  it('rejects a bad count and an empty split', () => {
    expect(() => sampleIoiPrompts(splits.train, -1, 0)).toThrow(InvalidArgumentError);
    expect(() => sampleIoiPrompts(splits.train, 1.5, 0)).toThrow(/count/);
    expect(() => sampleIoiPrompts({ ...splits.train, pairs: [] }, 1, 0)).toThrow(/no templates/);
    expect(sampleIoiPrompts(splits.train, 0, 0)).toEqual([]);
  });
});
