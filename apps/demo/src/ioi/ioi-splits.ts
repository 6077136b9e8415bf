import { InvalidArgumentError } from '@patchlens/tensor-hooks';
import { type IoiPrompt, renderIoiPrompt } from './ioi-prompt.js';
import type { IoiTemplate } from './ioi-templates.js';
import { IOI_HELD_OUT_TEMPLATES, IOI_TRAINING_TEMPLATES } from './ioi-templates.js';
import { IOI_OBJECTS, IOI_PLACES, IOI_TRAINING_NAMES, IOI_UNSEEN_NAMES } from './ioi-vocabulary.js';
import { SeededRandom } from './seeded-random.js';

/** An unordered pair of distinct names; a prompt uses it in either role and either order. */
export type IoiNamePair = readonly [string, string];

/** A set of prompts to sample from: which templates and which name pairs. */
export interface IoiSplit {
  readonly name: string;
  readonly templates: readonly IoiTemplate[];
  readonly pairs: readonly IoiNamePair[];
  readonly places: readonly string[];
  readonly objects: readonly string[];
}

/**
 * The splits of the bundled IOI model's data.
 *
 * - `train`: training templates x training pairs (what the model was trained on).
 * - `heldOut`: held-out templates x held-out pairs (two names never seen together in training).
 *   The quality gate.
 * - `heldOutTemplates`: held-out templates x training pairs; `heldOutPairs`: training templates
 *   x held-out pairs (diagnostics: which kind of novelty costs what).
 * - `unseenNames`: held-out templates x pairs of two names never seen in training at all.
 * - `mixedNames`: held-out templates x pairs of one training name and one unseen name.
 * - `unseenNamesTrainingTemplates`: training templates x pairs of two unseen names (the cost of
 *   new names alone).
 */
export interface IoiSplits {
  readonly train: IoiSplit;
  readonly heldOut: IoiSplit;
  readonly heldOutTemplates: IoiSplit;
  readonly heldOutPairs: IoiSplit;
  readonly unseenNames: IoiSplit;
  readonly mixedNames: IoiSplit;
  readonly unseenNamesTrainingTemplates: IoiSplit;
}

/** The seed that picks the held-out name pairs of the bundled model. */
export const IOI_SPLIT_SEED = 1;

/** Options of {@link createIoiSplits}. */
export interface IoiSplitOptions {
  /** Seed of the held-out pair choice; default {@link IOI_SPLIT_SEED}. */
  readonly seed?: number;
  /** Fraction of the training names' pairs held out; default 0.1. */
  readonly heldOutPairFraction?: number;
}

function allPairs(names: readonly string[]): IoiNamePair[] {
  const pairs: IoiNamePair[] = [];
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) pairs.push([names[i] as string, names[j] as string]);
  }
  return pairs;
}

function split(
  name: string,
  templates: readonly IoiTemplate[],
  pairs: readonly IoiNamePair[],
): IoiSplit {
  return { name, templates, pairs, places: IOI_PLACES, objects: IOI_OBJECTS };
}

/**
 * Build the train / held-out splits over {@link IOI_TRAINING_NAMES}, {@link IOI_UNSEEN_NAMES},
 * {@link IOI_TRAINING_TEMPLATES} and {@link IOI_HELD_OUT_TEMPLATES}. Deterministic in the seed.
 *
 * @param options - `seed` (default {@link IOI_SPLIT_SEED}), `heldOutPairFraction` (default 0.1).
 * @returns the splits described in {@link IoiSplits}.
 * @throws InvalidArgumentError when heldOutPairFraction is not in (0, 1).
 * @example
 * ```ts
 * const splits = createIoiSplits();
 * const prompts = sampleIoiPrompts(splits.heldOut, 8, 123);
 * ```
 */
export function createIoiSplits(options: IoiSplitOptions = {}): IoiSplits {
  const { seed = IOI_SPLIT_SEED, heldOutPairFraction = 0.1 } = options;
  if (!(heldOutPairFraction > 0 && heldOutPairFraction < 1)) {
    throw new InvalidArgumentError(
      `createIoiSplits: heldOutPairFraction must be in (0, 1); received ${heldOutPairFraction}.`,
    );
  }
  const shuffled = new SeededRandom(seed).shuffled(allPairs(IOI_TRAINING_NAMES));
  const heldOutCount = Math.round(shuffled.length * heldOutPairFraction);
  const heldOutPairs = shuffled.slice(0, heldOutCount);
  const trainPairs = shuffled.slice(heldOutCount);
  const mixedPairs: IoiNamePair[] = IOI_TRAINING_NAMES.flatMap((seen) =>
    IOI_UNSEEN_NAMES.map((unseen): IoiNamePair => [seen, unseen]),
  );
  return {
    train: split('train', IOI_TRAINING_TEMPLATES, trainPairs),
    heldOut: split('heldOut', IOI_HELD_OUT_TEMPLATES, heldOutPairs),
    heldOutTemplates: split('heldOutTemplates', IOI_HELD_OUT_TEMPLATES, trainPairs),
    heldOutPairs: split('heldOutPairs', IOI_TRAINING_TEMPLATES, heldOutPairs),
    unseenNames: split('unseenNames', IOI_HELD_OUT_TEMPLATES, allPairs(IOI_UNSEEN_NAMES)),
    mixedNames: split('mixedNames', IOI_HELD_OUT_TEMPLATES, mixedPairs),
    unseenNamesTrainingTemplates: split(
      'unseenNamesTrainingTemplates',
      IOI_TRAINING_TEMPLATES,
      allPairs(IOI_UNSEEN_NAMES),
    ),
  };
}

/**
 * Sample prompts from a split: template, pair, role of each name, place and object uniformly at
 * random; the name order alternates ABBA, BABA, ABBA, ... so the two forms are balanced.
 *
 * @param split - what to sample from.
 * @param count - number of prompts (a non-negative integer).
 * @param seedOrRandom - a seed, or a {@link SeededRandom} to continue (training streams).
 * @returns `count` prompts; the same arguments give the same prompts.
 * @throws InvalidArgumentError when count is not a non-negative integer or the split is empty.
 * @example
 * ```ts
 * const [prompt] = sampleIoiPrompts(createIoiSplits().heldOut, 1, 7);
 * prompt?.clean; // e.g. 'Then Kate and Jim went to the park. Jim showed a key to'
 * ```
 */
export function sampleIoiPrompts(
  split: IoiSplit,
  count: number,
  seedOrRandom: number | SeededRandom,
): IoiPrompt[] {
  if (!Number.isInteger(count) || count < 0) {
    throw new InvalidArgumentError(
      `sampleIoiPrompts: count must be a non-negative integer; received ${count}.`,
    );
  }
  if (
    split.templates.length === 0 ||
    split.pairs.length === 0 ||
    split.places.length === 0 ||
    split.objects.length === 0
  ) {
    throw new InvalidArgumentError(
      `sampleIoiPrompts: split "${split.name}" has no templates, pairs, places or objects to sample from.`,
    );
  }
  const random = typeof seedOrRandom === 'number' ? new SeededRandom(seedOrRandom) : seedOrRandom;
  const prompts: IoiPrompt[] = [];
  for (let index = 0; index < count; index++) {
    const template = random.pick(split.templates);
    const [first, second] = random.pick(split.pairs);
    const swap = random.next() < 0.5;
    prompts.push(
      renderIoiPrompt(template, {
        indirectObject: swap ? second : first,
        subject: swap ? first : second,
        order: index % 2 === 0 ? 'ABBA' : 'BABA',
        place: random.pick(split.places),
        object: random.pick(split.objects),
      }),
    );
  }
  return prompts;
}
