import { readFile, writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parseArgs } from 'node:util';
import { mergePatchResults, PatchResult, type PatchResultJson } from '@patchlens/patching';
import { InvalidArgumentError } from '@patchlens/tensor-hooks';
import { checkOutputFile, checkOutputFolder, writeAtomically } from './output-paths.js';
import { writeHeatmaps } from './patch-command.js';
import type { PatchMetricName } from './patch-options.js';
import type { CommandIO } from './progress-reporter.js';
import { resultsArrow, resultsCSV } from './results-table.js';
import { identityDifference } from './run-identity.js';
import type { ShardRunJson } from './scale-out.js';
import { UsageError } from './usage-error.js';

/** Usage text of `patchlens merge`. */
export const MERGE_USAGE = `patchlens merge PART.json... [--out FILE.json|.csv|.arrow] [--svg DIR] [--svg-values normalized|raw]
  joins the shards of one run (patchlens patch --shard i/n) into the full result, written as by
  patchlens patch (JSON with the run's identity, CSV, Arrow, heatmaps); exit 2 naming the files for
  parts of different runs (checkpoint, tokens, metric, sweeps, version, n), a missing or duplicated
  shard, or overlapping indices`;

const MERGE_OPTIONS = {
  out: { type: 'string' },
  svg: { type: 'string' },
  'svg-values': { type: 'string', default: 'normalized' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

async function readPart(file: string): Promise<ShardRunJson> {
  let document: Partial<ShardRunJson>;
  try {
    document = JSON.parse(await readFile(file, 'utf8')) as Partial<ShardRunJson>;
  } catch (error) {
    throw new UsageError(
      `patchlens merge: cannot read ${file} as JSON (${(error as Error).message}); give the .json files written by patchlens patch --shard i/n.`,
      { cause: error },
    );
  }
  const valid =
    typeof document === 'object' &&
    document !== null &&
    typeof document.shard === 'object' &&
    document.shard !== null &&
    typeof document.run === 'object' &&
    typeof document.patches === 'object' &&
    document.patches !== null;
  if (!valid) {
    throw new UsageError(
      `patchlens merge: ${file} is not a shard of a patchlens patch run (it has no "shard" and "run"); write parts with patchlens patch ... --shard i/n --out PART.json.`,
    );
  }
  return document as ShardRunJson;
}

/** Why two parts are not shards of one run, or undefined. */
function runDifference(a: ShardRunJson, b: ShardRunJson): string | undefined {
  const field = identityDifference(a.run, b.run);
  if (field !== undefined) return `their ${field} differs`;
  if (a.shard.count !== b.shard.count) {
    return `one is split into ${a.shard.count} shards, the other into ${b.shard.count}`;
  }
  if (JSON.stringify(a.model) !== JSON.stringify(b.model)) return 'their model dimensions differ';
  const names = (part: ShardRunJson) => JSON.stringify(Object.keys(part.patches));
  if (names(a) !== names(b)) return 'they hold different sweeps';
  return undefined;
}

function partResult(file: string, part: ShardRunJson, name: string): PatchResult {
  const json: PatchResultJson = part.patches[name]!;
  const indices = part.shard.indices?.[name];
  if (!Array.isArray(indices) || !Array.isArray(json.values)) {
    throw new UsageError(
      `patchlens merge: ${file} lacks the values or shard.indices of sweep ${name}; the file is damaged, write it again.`,
    );
  }
  const values = Float32Array.from(json.values, (value) => (value === null ? Number.NaN : value));
  const missing = indices.find((flat) => !Number.isFinite(values[flat] ?? Number.NaN));
  if (missing !== undefined) {
    throw new UsageError(
      `patchlens merge: ${file} lists flat index ${missing} of sweep ${name} in its shard but holds no value there; the file is damaged, write it again.`,
    );
  }
  try {
    return new PatchResult({
      values,
      shape: json.shape,
      axes: json.axes,
      ...(json.labels ? { labels: json.labels } : {}),
      ...(json.ms === undefined ? {} : { ms: json.ms }),
      shard: {
        index: part.shard.index,
        count: part.shard.count,
        indices: Int32Array.from(indices),
      },
    });
  } catch (error) {
    throw new UsageError(`patchlens merge: ${file}, sweep ${name}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * `patchlens merge PART.json...`: checks that the parts are the shards of one run (same
 * checkpoint, tokens, metric, sweeps, version and n; every shard once; no overlapping indices) and
 * writes the full result like `patchlens patch` (JSON with the run's identity, CSV or Arrow, and
 * heatmaps with `--svg`).
 *
 * @throws UsageError (exit 2) naming the files at fault.
 */
export async function mergeCommand(argv: readonly string[], io: CommandIO): Promise<void> {
  let parsed: {
    values: { out?: string; svg?: string; 'svg-values'?: string; help?: boolean };
    positionals: string[];
  };
  try {
    parsed = parseArgs({
      args: [...argv],
      options: MERGE_OPTIONS,
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw new UsageError(
      `patchlens merge: ${(error as Error).message}. Run "patchlens merge --help".`,
    );
  }
  const { values, positionals: files } = parsed;
  if (values.help) {
    io.stdout.write(`${MERGE_USAGE}\n`);
    return;
  }
  if (files.length === 0) {
    throw new UsageError(
      'patchlens merge: give the part files (patchlens merge shard-*.json --out result.json).',
    );
  }
  const format = values.out === undefined ? '.json' : extname(values.out).toLowerCase();
  if (!['.json', '.csv', '.arrow'].includes(format)) {
    throw new UsageError(
      `patchlens merge: --out "${values.out}" must end in .json, .csv or .arrow.`,
    );
  }
  const svgValues = values['svg-values'] ?? 'normalized';
  if (svgValues !== 'normalized' && svgValues !== 'raw') {
    throw new UsageError(
      `patchlens merge: --svg-values "${svgValues}" is not one of normalized, raw.`,
    );
  }
  if (values.out !== undefined) {
    await checkOutputFile(`patchlens merge: --out ${JSON.stringify(values.out)}`, values.out);
  }
  const parts = await Promise.all(files.map(readPart));
  if (values.svg !== undefined) {
    await checkOutputFolder(
      `patchlens merge: --svg ${JSON.stringify(values.svg)}`,
      values.svg,
      Object.keys(parts[0]!.patches).map((name) => `${name}.svg`),
    );
  }
  const first = parts[0]!;
  parts.forEach((part, position) => {
    const difference = runDifference(first, part);
    if (difference !== undefined) {
      throw new UsageError(
        `patchlens merge: ${files[0]} and ${files[position]} are parts of different runs (${difference}); merge only the shards of one run.`,
      );
    }
  });
  const results: Record<string, PatchResult> = {};
  for (const name of Object.keys(first.patches)) {
    const sweepParts = parts.map((part, position) => partResult(files[position]!, part, name));
    try {
      results[name] = mergePatchResults(sweepParts, { names: files });
    } catch (error) {
      if (!(error instanceof InvalidArgumentError)) throw error;
      throw new UsageError(
        `patchlens merge: ${error.message.replace(/^mergePatchResults: /, '')}`,
        { cause: error },
      );
    }
  }
  const context = {
    clean: first.metric.clean,
    corrupted: first.metric.corrupted,
    tokens: first.run.tokenStrings,
  };
  let content: string | Uint8Array;
  if (format === '.csv') content = resultsCSV(results, context);
  else if (format === '.arrow') content = resultsArrow(results, context);
  else {
    const { shard: _shard, patches: _patches, ...rest } = first;
    const patches = Object.fromEntries(
      Object.entries(results).map(([name, result]) => [name, result.toJSON()]),
    );
    content = `${JSON.stringify({ ...rest, patches })}\n`;
  }
  if (values.out === undefined) io.stdout.write(content);
  else {
    await writeAtomically(
      `patchlens merge: --out ${JSON.stringify(values.out)}`,
      values.out,
      (temporary) => writeFile(temporary, content),
    );
    io.stderr.write(`results: ${values.out} (${parts.length} shards)\n`);
  }
  if (values.svg !== undefined) {
    await writeHeatmaps(
      io,
      { svg: values.svg, svgValues, metric: first.metric.name as PatchMetricName },
      { metric: first.metric, results },
      first.run.tokenStrings,
    );
    io.stderr.write(`heatmaps: ${values.svg}\n`);
  }
}
