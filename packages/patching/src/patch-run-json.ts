import type { ModelConfig } from '@patchlens/tensor-hooks';
import type { PatchResult, PatchResultJson } from './patch-result.js';

/** What one patching run produced: the document `patchlens patch` writes as JSON. */
export interface PatchRun {
  /** The model's dimensions (only the fields of the JSON layout are written). */
  readonly model: ModelConfig;
  /** The tfjs backend the run used. */
  readonly backend: string;
  /** Token ids of the prompts, `[batch][pos]`. */
  readonly tokens: {
    readonly clean: readonly (readonly number[])[];
    readonly corrupted: readonly (readonly number[])[];
  };
  /** The metric's name and its value on the clean and corrupted runs. */
  readonly metric: { readonly name: string; readonly clean: number; readonly corrupted: number };
  /** The sweeps' results by CLI name (`resid_pre`, `block_every`, ...). */
  readonly results: Readonly<Record<string, PatchResult>>;
}

/** The JSON document of a {@link PatchRun} (the `patchlens patch` layout of the CLI spec). */
export interface PatchRunJson {
  readonly model: Pick<ModelConfig, 'nLayers' | 'nHeads' | 'dModel' | 'dVocab' | 'nCtx'>;
  readonly backend: string;
  readonly tokens: { readonly clean: number[][]; readonly corrupted: number[][] };
  readonly metric: { readonly name: string; readonly clean: number; readonly corrupted: number };
  readonly patches: Record<string, PatchResultJson>;
}

/**
 * A patching run as the JSON document of `patchlens patch` (spec/cli.md): model dimensions,
 * backend, tokens, the metric on both runs, and one `{axes, shape, values, ms}` entry per sweep.
 *
 * @example
 * ```ts
 * const json = patchRunJson({ model: model.config, backend: 'wasm', tokens, metric, results });
 * await writeFile('results.json', JSON.stringify(json));
 * ```
 */
export function patchRunJson(run: PatchRun): PatchRunJson {
  const { nLayers, nHeads, dModel, dVocab, nCtx } = run.model;
  const patches: Record<string, PatchResultJson> = {};
  for (const [name, result] of Object.entries(run.results)) patches[name] = result.toJSON();
  return {
    model: { nLayers, nHeads, dModel, dVocab, nCtx },
    backend: run.backend,
    tokens: {
      clean: run.tokens.clean.map((row) => [...row]),
      corrupted: run.tokens.corrupted.map((row) => [...row]),
    },
    metric: { name: run.metric.name, clean: run.metric.clean, corrupted: run.metric.corrupted },
    patches,
  };
}
