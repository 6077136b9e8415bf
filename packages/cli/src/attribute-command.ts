import { writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import {
  attributionPatch,
  logitDiff,
  normalizedMetric,
  PATCHING_FUNCTIONS,
  type PatchResult,
  type PatchResultJson,
  patchRunJson,
  preparePatching,
  resolveAttributionKinds,
  type SweepName,
} from '@patchlens/patching';
import { pearsonCorrelation } from '@patchlens/viz';
import * as tf from '@tensorflow/tfjs-core';
import { asCommand } from './as-command.js';
import {
  backendPreference,
  COMMON_OPTIONS,
  parseCommandLine,
  requireModel,
} from './command-line.js';
import { loadModel } from './load-model.js';
import { answerIds, promptTokens, writeHeatmaps } from './patch-command.js';
import { type CommandIO, progressReporter } from './progress-reporter.js';
import { UsageError } from './usage-error.js';

const ATTRIBUTE_OPTIONS = {
  ...COMMON_OPTIONS,
  clean: { type: 'string', multiple: true },
  corrupted: { type: 'string', multiple: true },
  'clean-ids': { type: 'string', multiple: true },
  'corrupted-ids': { type: 'string', multiple: true },
  'no-prepend-bos': { type: 'boolean', default: false },
  answer: { type: 'string', multiple: true },
  wrong: { type: 'string', multiple: true },
  metric: { type: 'string', default: 'logit-diff' },
  kinds: { type: 'string', default: 'all' },
  'with-exact': { type: 'boolean', default: false },
  out: { type: 'string' },
  svg: { type: 'string' },
} as const;

/** Usage text of `patchlens attribute`. */
export const ATTRIBUTE_USAGE = `patchlens attribute --model M
  (--clean TEXT --corrupted TEXT | --clean-ids 5,17,42 --corrupted-ids 5,17,43)   repeatable: one per prompt
  [--no-prepend-bos] --answer TOKEN|ID --wrong TOKEN|ID   repeatable: one per prompt, or one for all
  [--metric logit-diff|normalized-logit-diff] [--kinds all|resid_pre,attn_head_out_all_pos,...]
  [--with-exact] [--out FILE.json] [--svg DIR] [--backend auto|tensorflow|wasm|cpu] [--no-process-weights]
  Attribution patching: one backward pass estimates every entry of each sweep (kind) as
  (patched - corrupted) metric; --with-exact also runs the exact sweeps and reports the Pearson
  correlation per kind.`;

const METRICS = ['logit-diff', 'normalized-logit-diff'] as const;

/** What `patchlens attribute` writes as JSON (the `patch` layout with `attributions`). */
export interface AttributeRunJson extends Omit<ReturnType<typeof patchRunJson>, 'patches'> {
  /** The estimates by kind (same names, axes and shapes as the exact sweeps). */
  readonly attributions: Record<string, PatchResultJson>;
  /** With `--with-exact`: the exact sweeps. */
  readonly patches?: Record<string, PatchResultJson>;
  /** With `--with-exact`: Pearson correlation of estimate and (exact − corrupted) per kind. */
  readonly correlations?: Record<string, number>;
}

/**
 * `patchlens attribute`: attribution patching (one clean forward, one corrupted forward with
 * gradients, one backward) for the chosen kinds; with `--with-exact` also the exact sweeps and the
 * correlation per kind; JSON on stdout or `--out`, heatmaps with `--svg`.
 */
export async function attributeCommand(argv: readonly string[], io: CommandIO): Promise<void> {
  const values = parseCommandLine('attribute', argv, ATTRIBUTE_OPTIONS);
  if (values.help) {
    io.stdout.write(`${ATTRIBUTE_USAGE}\n`);
    return;
  }
  const source = requireModel('attribute', values.model);
  const backend = backendPreference('attribute', values.backend);
  if (!(METRICS as readonly string[]).includes(values.metric)) {
    throw new UsageError(
      `patchlens attribute: --metric "${values.metric}" is not one of ${METRICS.join(', ')}.`,
    );
  }
  if (values.out !== undefined && extname(values.out).toLowerCase() !== '.json') {
    throw new UsageError(`patchlens attribute: --out "${values.out}" must end in .json.`);
  }
  let kinds: SweepName[];
  try {
    kinds = resolveAttributionKinds(values.kinds);
  } catch (error) {
    throw new UsageError(
      `patchlens attribute: --kinds: ${(error as Error).message.replace(/^attributionPatch: /, '')}`,
      { cause: error },
    );
  }
  const { backend: backendName, model } = await loadModel(io, source, {
    backend,
    processWeights: !values['no-process-weights'],
  });
  try {
    const tokens = asCommand('attribute', () =>
      promptTokens(
        model,
        {
          clean: values.clean,
          corrupted: values.corrupted,
          cleanIds: values['clean-ids'],
          corruptedIds: values['corrupted-ids'],
        },
        !values['no-prepend-bos'],
      ),
    );
    const batch = tokens.clean.length;
    const rawMetric = logitDiff({
      answers: asCommand('attribute', () => answerIds(model, 'answer', values.answer, batch)),
      wrong: asCommand('attribute', () => answerIds(model, 'wrong', values.wrong, batch)),
    });
    const cleanTokens = tf.tensor2d(tokens.clean, undefined, 'int32');
    const corruptedTokens = tf.tensor2d(tokens.corrupted, undefined, 'int32');
    try {
      using prepared = await preparePatching(model, cleanTokens, corruptedTokens, rawMetric);
      const metric =
        values.metric === 'normalized-logit-diff'
          ? normalizedMetric(rawMetric, prepared)
          : rawMetric;
      io.stderr.write(`attribution: ${kinds.length} kinds, one backward pass\n`);
      const { results, corrupted } = await attributionPatch(
        model,
        cleanTokens,
        corruptedTokens,
        metric,
        { kinds },
      );
      const attributions = Object.fromEntries(results) as Record<string, PatchResult>;
      const exact: Record<string, PatchResult> = {};
      const correlations: Record<string, number> = {};
      if (values['with-exact']) {
        for (const kind of kinds) {
          const result = await PATCHING_FUNCTIONS[kind](
            model,
            corruptedTokens,
            prepared.cleanCache,
            metric,
            { onProgress: progressReporter(io, kind) },
          );
          exact[kind] = result;
          const effects = result.values.map((value) => value - corrupted);
          correlations[kind] = pearsonCorrelation(results.get(kind)!.values, effects);
        }
      }
      const base = patchRunJson({
        model: model.config,
        backend: backendName,
        tokens,
        metric: { name: values.metric, clean: prepared.clean, corrupted: prepared.corrupted },
        results: exact,
      });
      const { patches, ...rest } = base;
      const json: AttributeRunJson = {
        ...rest,
        attributions: Object.fromEntries(
          Object.entries(attributions).map(([name, result]) => [name, result.toJSON()]),
        ),
        ...(values['with-exact'] ? { patches, correlations } : {}),
      };
      const content = `${JSON.stringify(json)}\n`;
      if (values.out === undefined) io.stdout.write(content);
      else {
        await writeFile(values.out, content);
        io.stderr.write(`results: ${values.out}\n`);
      }
      if (values.svg !== undefined) {
        const named = Object.fromEntries(
          Object.entries(attributions).map(([name, result]) => [`attribution_${name}`, result]),
        );
        const tokenTexts = model.toStrTokens(tokens.clean[0]!);
        await writeHeatmaps(values.svg, named, tokenTexts, `${values.metric} change (estimate)`);
        await writeHeatmaps(values.svg, exact, tokenTexts, values.metric);
        io.stderr.write(`heatmaps: ${values.svg}\n`);
      }
    } finally {
      cleanTokens.dispose();
      corruptedTokens.dispose();
    }
  } finally {
    model.dispose();
  }
}
