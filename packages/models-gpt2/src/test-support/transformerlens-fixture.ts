/**
 * TransformerLens's own numbers on a small seeded GPT-2 checkpoint (test/fixtures/transformerlens,
 * see its README): every hook point of the clean cache, the last-position logits and all 18
 * `get_act_patch_*` results, for raw and processed weights. Tests only; shared by the models-gpt2,
 * patching and cli suites (they import this file by relative path).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import type { PlainTensor } from './reference-gpt2.js';

const FIXTURE_FOLDER = new URL('../../test/fixtures/transformerlens/gpt2/', import.meta.url);

/** The Hugging Face checkpoint folder (`config.json` + `model.safetensors`) TransformerLens ran. */
export const TRANSFORMERLENS_GPT2_CHECKPOINT = fileURLToPath(new URL('checkpoint', FIXTURE_FOLDER));

/** sha256 of the checkpoint's model.safetensors, as the fixture's README gives it. */
export const TRANSFORMERLENS_GPT2_SHA256 =
  'ff94448fb120037712b5dfd33167f578778c13fc4be079019c5215722c86fc64';

/** `raw`: `from_pretrained_no_processing`; `processed`: `from_pretrained` (all four steps). */
export type FixtureWeights = 'raw' | 'processed';

/** One file of the fixture, decoded. */
export interface TransformerLensFixture {
  readonly cleanTokens: number[][];
  readonly corruptedTokens: number[][];
  /** The metric is the batch mean of `logits[:, -1, answer] - logits[:, -1, wrong]`. */
  readonly answer: number;
  readonly wrong: number;
  readonly cleanMetric: number;
  readonly corruptedMetric: number;
  /** `[batch, dVocab]` logits at the last position. */
  readonly cleanLogitsLast: PlainTensor;
  readonly corruptedLogitsLast: PlainTensor;
  /** Every hook point of `run_with_cache(clean)`, by TransformerLens name (-inf restored). */
  readonly cleanCache: ReadonlyMap<string, PlainTensor>;
  /** Each `get_act_patch_*` result by TransformerLens function name. */
  readonly patching: ReadonlyMap<string, PlainTensor>;
  /** The `load_and_process_state_dict` flags TransformerLens used. */
  readonly flags: Readonly<Record<string, boolean>>;
}

interface TensorJson {
  readonly shape: number[];
  readonly values: unknown;
}

/** Nested lists -> row-major Float32Array; `null` stands for -Infinity (masked attention scores). */
function decode(name: string, json: TensorJson): PlainTensor {
  const data: number[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) for (const entry of value) walk(entry);
    else data.push(value === null ? Number.NEGATIVE_INFINITY : (value as number));
  };
  walk(json.values);
  const size = json.shape.reduce((product, extent) => product * extent, 1);
  if (data.length !== size) {
    throw new Error(`fixture ${name}: ${data.length} values for shape [${json.shape}]`);
  }
  return { shape: [...json.shape], data: Float32Array.from(data) };
}

const decoded = new Map<FixtureWeights, TransformerLensFixture>();

/** Reads (once) and decodes `raw_b2.json` or `processed_b2.json`. */
export function readTransformerLensFixture(weights: FixtureWeights): TransformerLensFixture {
  const known = decoded.get(weights);
  if (known) return known;
  const json = JSON.parse(readFileSync(new URL(`${weights}_b2.json`, FIXTURE_FOLDER), 'utf8'));
  const byName = (entries: Record<string, TensorJson>) =>
    new Map(Object.entries(entries).map(([name, value]) => [name, decode(name, value)] as const));
  const fixture: TransformerLensFixture = {
    cleanTokens: json.inputs.clean_tokens,
    corruptedTokens: json.inputs.corrupted_tokens,
    answer: json.inputs.answer_token_A,
    wrong: json.inputs.answer_token_B,
    cleanMetric: json.clean_metric,
    corruptedMetric: json.corrupted_metric,
    cleanLogitsLast: decode('clean_logits_last', json.clean_logits_last),
    corruptedLogitsLast: decode('corrupted_logits_last', json.corrupted_logits_last),
    cleanCache: byName(json.clean_cache),
    patching: byName(json.patching),
    flags: json.checkpoint.load_and_process_state_dict_flags,
  };
  decoded.set(weights, fixture);
  return fixture;
}

/**
 * The fixture's suggested comparison: max |actual - expected| / max(1, max |expected|) over the
 * tensor (finite entries); -Infinity entries must match exactly (else Infinity). Throws on a shape
 * mismatch.
 */
export function fixtureError(
  actual: tf.Tensor | ArrayLike<number>,
  expected: PlainTensor,
  actualShape?: readonly number[],
): number {
  const shape = actual instanceof tf.Tensor ? actual.shape : (actualShape ?? expected.shape);
  if (shape.join(',') !== expected.shape.join(',')) {
    throw new Error(`shape [${shape}] differs from TransformerLens's [${expected.shape}]`);
  }
  const values = actual instanceof tf.Tensor ? actual.dataSync() : actual;
  let largest = 1;
  for (const value of expected.data)
    if (Number.isFinite(value)) largest = Math.max(largest, Math.abs(value));
  let worst = 0;
  for (let index = 0; index < expected.data.length; index++) {
    const a = values[index]!;
    const e = expected.data[index]!;
    if (!Number.isFinite(e) || !Number.isFinite(a)) {
      if (a !== e) return Number.POSITIVE_INFINITY;
      continue;
    }
    worst = Math.max(worst, Math.abs(a - e));
  }
  return worst / largest;
}
