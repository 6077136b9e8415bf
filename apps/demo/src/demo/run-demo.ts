import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BackendPreference } from '@patchlens/backends';
import { initNodeBackend } from '@patchlens/backends/node';
import { type CommandIO, progressReporter } from '@patchlens/cli';
import { ioiModelUrl } from '@patchlens/ioi-model';
import { GPT2 } from '@patchlens/models-gpt2';
import { loadGPT2FromFolder } from '@patchlens/models-gpt2/node';
import {
  logitDiff,
  PATCHING_FUNCTIONS,
  type PatchResult,
  patchRunJson,
  preparePatching,
} from '@patchlens/patching';
import { InvalidArgumentError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { heldOutIoiBatch, transformerLensIoiBatch } from './demo-prompts.js';
import { demoReport } from './demo-report.js';
import { ioiPositionRoles } from './demo-roles.js';
import { demoSummary } from './demo-summary.js';
import {
  DEMO_SWEEPS,
  type DemoSweep,
  type NormalizedResult,
  normalizeResult,
} from './demo-sweeps.js';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Checkpoint folder or URL; default the bundled IOI model. */
  readonly model?: string;
  /** Where the report, JSON and CSVs go (created if missing). */
  readonly outDir: string;
  /** Sweeps to run, default {@link DEMO_SWEEPS}. */
  readonly sweeps?: readonly DemoSweep[];
  /** IOI prompts for the bundled model (default 8; TransformerLens's batch has 8 for other models). */
  readonly prompts?: number;
  /** tfjs backend (default auto). */
  readonly backend?: BackendPreference;
  /** Where progress (stderr) and the closing lines (stdout) go. */
  readonly io: CommandIO;
}

/** Files the demo wrote and its summary. */
export interface DemoOutcome {
  readonly report: string;
  readonly results: string;
  readonly csv: readonly string[];
  readonly summary: readonly string[];
  readonly clean: number;
  readonly corrupted: number;
}

/** Folder of the IOI model that ships with PatchLens. */
export const BUNDLED_MODEL = ioiModelUrl;

const GPT2_VOCABULARY = 50257;

async function loadModel(
  source: string | undefined,
): Promise<{ model: GPT2; name: string; bundled: boolean }> {
  if (source === undefined) {
    return {
      model: await loadGPT2FromFolder(BUNDLED_MODEL.pathname),
      name: 'the bundled IOI model',
      bundled: true,
    };
  }
  const model = /^https?:\/\//i.test(source)
    ? await GPT2.fromPretrained(source)
    : await loadGPT2FromFolder(source);
  return { model, name: source, bundled: false };
}

/**
 * The demo: load a model, build clean and name-swapped IOI prompts, print both logit
 * differences, run the patching sweeps with progress bars, and write `report.html`,
 * `results.json` (the `patchlens patch` layout, raw logit differences) and one CSV per sweep.
 *
 * @throws InvalidArgumentError for a model whose vocabulary is not GPT-2's.
 */
export async function runDemo(options: DemoOptions): Promise<DemoOutcome> {
  const { io } = options;
  const backend = await initNodeBackend(options.backend ?? 'auto');
  io.stderr.write(`backend: ${backend}\n`);
  const { model, name, bundled } = await loadModel(options.model);
  try {
    if (model.config.dVocab !== GPT2_VOCABULARY) {
      throw new InvalidArgumentError(
        `runDemo: the model's vocabulary has ${model.config.dVocab} tokens; the IOI prompts need GPT-2's ${GPT2_VOCABULARY}.`,
      );
    }
    const batch = bundled
      ? heldOutIoiBatch(model.tokenizer, options.prompts ?? 8)
      : transformerLensIoiBatch(model.tokenizer);
    const metric = logitDiff({ answers: [...batch.answerTokens], wrong: [...batch.wrongTokens] });
    const cleanTokens = tf.tensor2d(
      batch.clean.map((row) => [...row]),
      undefined,
      'int32',
    );
    const corruptedTokens = tf.tensor2d(
      batch.corrupted.map((row) => [...row]),
      undefined,
      'int32',
    );
    try {
      using prepared = await preparePatching(model, cleanTokens, corruptedTokens, metric);
      const { clean, corrupted } = prepared;
      io.stdout.write(
        `clean logit diff ${clean.toFixed(3)}, corrupted logit diff ${corrupted.toFixed(3)} (${batch.prompts.length} prompts)\n`,
      );
      const results: Record<string, PatchResult> = {};
      for (const sweep of options.sweeps ?? DEMO_SWEEPS) {
        results[sweep] = await PATCHING_FUNCTIONS[sweep](
          model,
          corruptedTokens,
          prepared.cleanCache,
          metric,
          {
            onProgress: progressReporter(io, sweep),
          },
        );
      }
      const normalized: Record<string, NormalizedResult> = {};
      for (const [sweep, result] of Object.entries(results))
        normalized[sweep] = normalizeResult(result, clean, corrupted);
      const roles = ioiPositionRoles(batch, model.toStrTokens(batch.clean[0]!));
      const summary = demoSummary({
        results: normalized,
        roles,
        prompts: batch.prompts.length,
        clean,
        corrupted,
      });

      await mkdir(options.outDir, { recursive: true });
      const outcome = {
        report: join(options.outDir, 'report.html'),
        results: join(options.outDir, 'results.json'),
        csv: Object.keys(results).map((sweep) => join(options.outDir, `${sweep}.csv`)),
        summary,
        clean,
        corrupted,
      };
      const json = patchRunJson({
        model: model.config,
        backend,
        tokens: { clean: batch.clean, corrupted: batch.corrupted },
        metric: { name: 'logit-diff', clean, corrupted },
        results,
      });
      await writeFile(outcome.results, `${JSON.stringify(json)}\n`);
      for (const [sweep, result] of Object.entries(results)) {
        await writeFile(join(options.outDir, `${sweep}.csv`), result.toCSV());
      }
      const html = await demoReport({
        model,
        modelName: name,
        bundled,
        batch,
        results: normalized,
        summary,
      });
      await writeFile(outcome.report, html);
      return outcome;
    } finally {
      cleanTokens.dispose();
      corruptedTokens.dispose();
    }
  } finally {
    model.dispose();
  }
}
