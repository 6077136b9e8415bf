import { writeFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { logitLens } from '@patchlens/activation-cache';
import { GPT2 } from '@patchlens/models-gpt2';
import * as tf from '@tensorflow/tfjs-core';
import {
  backendPreference,
  COMMON_OPTIONS,
  COMMON_USAGE,
  parseCommandLine,
  parseIdList,
  requireModel,
} from './command-line.js';
import {
  checkOutputFile,
  checkOutputFolder,
  createOutputFolder,
  writeAtomically,
} from './output-paths.js';
import type { CommandIO } from './progress-reporter.js';
import { answerIds } from './prompt-inputs.js';
import { UsageError } from './usage-error.js';

const ANALYZE_OPTIONS = {
  ...COMMON_OPTIONS,
  text: { type: 'string', multiple: true },
  ids: { type: 'string', multiple: true },
  'no-prepend-bos': { type: 'boolean', default: false },
  answer: { type: 'string', multiple: true },
  wrong: { type: 'string', multiple: true },
  'top-k': { type: 'string', default: '5' },
  out: { type: 'string' },
  svg: { type: 'string' },
} as const;

/** Usage text of `patchlens analyze`. */
export const ANALYZE_USAGE = `patchlens analyze --model M (--text TEXT | --ids 5,17,42)...   repeatable: one per prompt (same token count)
  [--no-prepend-bos] --answer TOKEN|ID --wrong TOKEN|ID   repeatable: one per prompt, or one for all
  [--top-k 5] [--out FILE.json] [--svg DIR]
${COMMON_USAGE}

  Residual-stream analysis at the last position: the logit lens by layer, direct logit attribution
  per head [layer, head] and per component (embed, pos_embed, {l}_attn_out, {l}_mlp_out), in
  logit-difference units (answer - wrong; b_U's difference is reported apart), averaged over prompts.
  --svg DIR: logit_lens.svg and head_attribution.svg.`;

/** The residual-stream analysis of `patchlens analyze` as its JSON document. */
export interface AnalyzeRunJson {
  readonly model: { nLayers: number; nHeads: number; dModel: number; dVocab: number; nCtx: number };
  readonly backend: string;
  readonly tokens: number[][];
  readonly answer: number[];
  readonly wrong: number[];
  /** Mean logit difference of the run (last position). */
  readonly logitDiff: number;
  /** Mean of b_U[answer] − b_U[wrong] (left out of the attributions, as in TransformerLens). */
  readonly unembedBiasDiff: number;
  /** Per depth: label, mean logit difference, answer rank and top tokens of the first prompt. */
  readonly logitLens: {
    readonly labels: string[];
    readonly logitDiff: number[];
    readonly answerRank: number[];
    readonly top: { token: number; text: string; logit: number }[][];
  };
  /** Direct logit attribution of each head, mean over prompts, `[layer, head]` row-major. */
  readonly headAttribution: { axes: ['layer', 'head']; shape: [number, number]; values: number[] };
  /** Direct logit attribution of each component of the final residual stream, mean over prompts. */
  readonly componentAttribution: { labels: string[]; values: number[] };
}

function promptIds(
  model: GPT2,
  values: { text?: string[]; ids?: string[] },
  prependBos: boolean,
): number[][] {
  const { text, ids } = values;
  if ((text === undefined) === (ids === undefined)) {
    throw new UsageError(
      'patchlens analyze: give the prompts either as text (--text TEXT) or as ids (--ids 5,17,42), not both and not neither.',
    );
  }
  const prompts = (text ?? ids)!.map((prompt) => {
    if (ids !== undefined) return parseIdList('ids', prompt);
    if (prompt.length === 0) {
      throw new UsageError('patchlens analyze: a --text prompt is empty; give at least one token.');
    }
    const tokens = model.toTokens(prompt, { prependBos });
    try {
      return Array.from(tokens.dataSync());
    } finally {
      tokens.dispose();
    }
  });
  const length = prompts[0]!.length;
  prompts.forEach((prompt, index) => {
    if (prompt.length !== length) {
      throw new UsageError(
        `patchlens analyze: prompt 0 has ${length} tokens but prompt ${index} has ${prompt.length} ${JSON.stringify(model.toStrTokens(prompt))}; every prompt must have the same number of tokens.`,
      );
    }
    const bad = prompt.find((id) => id >= model.config.dVocab);
    if (bad !== undefined) {
      throw new UsageError(
        `patchlens analyze: prompt ${index} holds token id ${bad}, outside the vocabulary (0..${model.config.dVocab - 1}).`,
      );
    }
  });
  return prompts;
}

/** The `--answer`/`--wrong` values: required, one for all prompts or one per prompt. */
function answerFlag(flag: string, values: string[] | undefined, batch: number): string[] {
  if (!values || values.length === 0) {
    throw new UsageError(
      `patchlens analyze: --${flag} is required (a single-token text like " Mary", or a token id).`,
    );
  }
  if (values.length !== 1 && values.length !== batch) {
    throw new UsageError(
      `patchlens analyze: got ${values.length} --${flag} values for ${batch} prompts; give one for all prompts or one per prompt.`,
    );
  }
  return values;
}

/** Mean over the last axis of `[rows, batch]` values. */
function meanOverBatch(tensor: tf.Tensor): number[] {
  const mean = tf.mean(tensor, -1); // [rows]
  try {
    return Array.from(mean.dataSync());
  } finally {
    mean.dispose();
  }
}

/**
 * `patchlens analyze`: one run with cache, then the logit lens, per-head and per-component direct
 * logit attribution at the last position; JSON on stdout or `--out`, two SVGs with `--svg`.
 */
export async function analyzeCommand(argv: readonly string[], io: CommandIO): Promise<void> {
  const values = parseCommandLine('analyze', argv, ANALYZE_OPTIONS);
  if (values.help) {
    io.stdout.write(`${ANALYZE_USAGE}\n`);
    return;
  }
  const source = requireModel('analyze', values.model);
  const backend = backendPreference('analyze', values.backend);
  const topK = Number(values['top-k']);
  if (!/^\d+$/.test(values['top-k']) || topK < 1) {
    throw new UsageError(
      `patchlens analyze: --top-k "${values['top-k']}" must be a positive integer.`,
    );
  }
  if (values.out !== undefined && extname(values.out).toLowerCase() !== '.json') {
    throw new UsageError(`patchlens analyze: --out "${values.out}" must end in .json.`);
  }
  if (values.out !== undefined) {
    await checkOutputFile(`patchlens analyze: --out ${JSON.stringify(values.out)}`, values.out);
  }
  if (values.svg !== undefined) {
    await checkOutputFolder(`patchlens analyze: --svg ${JSON.stringify(values.svg)}`, values.svg, [
      'logit_lens.svg',
      'head_attribution.svg',
    ]);
  }
  const { loadModel } = await import('./load-model.js');
  const { backend: backendName, model: loaded } = await loadModel(io, source, {
    backend,
    processWeights: !values['no-process-weights'],
  });
  if (!(loaded instanceof GPT2)) {
    loaded.dispose();
    throw new UsageError(
      `patchlens analyze: the residual-stream analysis (logit lens, head attribution) supports GPT-2 checkpoints; ${loaded.config.originalArchitecture} (RMSNorm / rotary / parallel blocks) is not supported yet. patchlens cache and patch work with it.`,
    );
  }
  const model = loaded;
  try {
    const prompts = promptIds(model, values, !values['no-prepend-bos']);
    const batch = prompts.length;
    const answer = answerIds(
      'analyze',
      model,
      'answer',
      answerFlag('answer', values.answer, batch),
    );
    const wrong = answerIds('analyze', model, 'wrong', answerFlag('wrong', values.wrong, batch));
    const perPrompt = (ids: number[]) =>
      Array.from({ length: batch }, (_, b) => ids[ids.length === 1 ? 0 : b]!);
    const answers = perPrompt(answer);
    const wrongs = perPrompt(wrong);
    const tokens = tf.tensor2d(prompts, undefined, 'int32');
    const { logits, cache } = model.runWithCache(tokens, {
      namesFilter:
        /(hook_(embed|pos_embed|resid_pre|resid_post|attn_out|mlp_out|z)|ln_final\.hook_scale)$/,
    });
    try {
      const lens = await logitLens(cache, { tokens: answers, wrong: wrongs, topK });
      const mean = (row: readonly number[]) => row.reduce((sum, v) => sum + v, 0) / row.length;
      const { nLayers, nHeads } = model.config;
      const owned: tf.Tensor[] = [];
      let headValues: number[];
      let componentValues: number[];
      let labels: string[];
      try {
        const heads = cache.stackHeadResults(-1, { posSlice: -1 }); // [layer * head, batch, dModel]
        owned.push(heads);
        const headAttrs = cache.logitAttrs(heads, answers, wrongs, { posSlice: -1 }); // [layer * head, batch]
        owned.push(headAttrs);
        headValues = meanOverBatch(headAttrs);
        const [components, componentLabels] = cache.decomposeResid(-1, {
          posSlice: -1,
          returnLabels: true,
        }); // [components, batch, dModel]
        owned.push(components);
        labels = componentLabels;
        const componentAttrs = cache.logitAttrs(components, answers, wrongs, { posSlice: -1 });
        owned.push(componentAttrs);
        componentValues = meanOverBatch(componentAttrs);
      } finally {
        tf.dispose(owned);
      }
      const bU = model.weights.b_U.dataSync();
      const logitValues = logits.dataSync();
      const [, positions, dVocab] = logits.shape as [number, number, number];
      const runDiffs = answers.map((a, b) => {
        const base = (b * positions + positions - 1) * dVocab;
        return logitValues[base + a]! - logitValues[base + wrongs[b]!]!;
      });
      const json: AnalyzeRunJson = {
        model: {
          nLayers,
          nHeads,
          dModel: model.config.dModel,
          dVocab: model.config.dVocab,
          nCtx: model.config.nCtx,
        },
        backend: backendName,
        tokens: prompts,
        answer,
        wrong,
        logitDiff: mean(runDiffs),
        unembedBiasDiff: mean(answers.map((a, b) => bU[a]! - bU[wrongs[b]!]!)),
        logitLens: {
          labels: lens.map((row) => row.label),
          logitDiff: lens.map((row) => mean(row.logitDiff!)),
          answerRank: lens.map((row) => row.answerRank[0]!),
          top: lens.map((row) =>
            row.top[0]!.map(({ token, logit }) => ({
              token,
              text: model.toStr([token]) as string,
              logit,
            })),
          ),
        },
        headAttribution: {
          axes: ['layer', 'head'],
          shape: [nLayers, nHeads],
          values: headValues,
        },
        componentAttribution: { labels, values: componentValues },
      };
      const content = `${JSON.stringify(json)}\n`;
      if (values.out === undefined) io.stdout.write(content);
      else {
        await writeAtomically(
          `patchlens analyze: --out ${JSON.stringify(values.out)}`,
          values.out,
          (path) => writeFile(path, content),
        );
        io.stderr.write(`results: ${values.out}\n`);
      }
      if (values.svg !== undefined) {
        const where = `patchlens analyze: --svg ${JSON.stringify(values.svg)}`;
        const { headAttributionHeatmap, logitLensChart } = await import('@patchlens/viz');
        await createOutputFolder(where, values.svg);
        const figures = {
          logit_lens: logitLensChart(json.logitLens.labels, json.logitLens.logitDiff, {
            title: 'Logit lens: logit difference by layer',
          }),
          head_attribution: headAttributionHeatmap(json.headAttribution),
        };
        for (const [name, figure] of Object.entries(figures)) {
          const svg = await figure.toSVG();
          await writeAtomically(where, join(values.svg, `${name}.svg`), (path) =>
            writeFile(path, svg),
          );
        }
        io.stderr.write(`figures: ${values.svg}\n`);
      }
    } finally {
      cache.dispose();
      tf.dispose([logits, tokens]);
    }
  } finally {
    model.dispose();
  }
}
