import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { logitDiff, type PathPatchResult, pathPatch } from '@patchlens/patching';
import * as tf from '@tensorflow/tfjs-core';
import {
  checkOutputFile,
  checkOutputFolder,
  createOutputFolder,
  writeAtomically,
} from './output-paths.js';
import { PATH_USAGE, type PathArguments, parsePathArguments } from './path-options.js';
import { type CommandIO, progressReporter } from './progress-reporter.js';
import { resolvePromptInputs } from './prompt-inputs.js';

const quote = (text: string) => JSON.stringify(text);

/** One receiver set's result, as written. */
interface PathEntry {
  readonly receivers: string;
  readonly result: PathPatchResult;
}

/**
 * `patchlens path`: path patching from sender heads to each receiver set, written as JSON (like
 * `patch`: model, backend, tokens, metric baselines, then one entry per receiver set) or CSV, and
 * with `--svg` the sender × receiver heatmap. Output paths are checked before the model loads.
 */
export async function pathCommand(argv: readonly string[], io: CommandIO): Promise<void> {
  const args = parsePathArguments(argv);
  if (args === 'help') {
    io.stdout.write(`${PATH_USAGE}\n`);
    return;
  }
  if (args.out !== undefined) {
    await checkOutputFile(`patchlens path: --out ${quote(args.out)}`, args.out);
  }
  if (args.svg !== undefined) {
    await checkOutputFolder(`patchlens path: --svg ${quote(args.svg)}`, args.svg, ['path.svg']);
  }
  const { loadModel } = await import('./load-model.js');
  const { backend, model } = await loadModel(io, args.source, {
    backend: args.backend,
    processWeights: args.processWeights,
  });
  try {
    const { answers, wrong, ...tokens } = resolvePromptInputs('path', model, args);
    const clean = tf.tensor2d(tokens.clean, undefined, 'int32');
    const corrupted = tf.tensor2d(tokens.corrupted, undefined, 'int32');
    try {
      const entries: PathEntry[] = [];
      for (const set of args.receiverSets) {
        const result = await pathPatch(model, {
          clean,
          corrupted,
          metric: logitDiff({ answers, wrong }),
          senders: args.senders,
          receivers: set.receivers,
          ...(args.batchSize === undefined ? {} : { batchSize: args.batchSize }),
          onProgress: progressReporter(io, `path -> ${set.name}`),
        });
        entries.push({ receivers: set.name, result });
      }
      const first = entries[0]!.result;
      const document = {
        model: {
          nLayers: model.config.nLayers,
          nHeads: model.config.nHeads,
          dModel: model.config.dModel,
          dVocab: model.config.dVocab,
          nCtx: model.config.nCtx,
        },
        backend,
        tokens,
        metric: { name: 'logit-diff', clean: first.clean, corrupted: first.corrupted },
        senders:
          args.senders === 'all-heads'
            ? 'all-heads'
            : args.senders.map((head) => `${head.layer}.${head.head}`).join(','),
        paths: entries.map(({ receivers, result }) => ({
          receivers,
          effect: result.effect.toJSON(),
          normalized: result.normalized.toJSON(),
        })),
      };
      await writeResults(io, args, document, entries);
      if (args.svg !== undefined) await writeHeatmap(io, args, entries);
    } finally {
      tf.dispose([clean, corrupted]);
    }
  } finally {
    model.dispose();
  }
}

async function writeResults(
  io: CommandIO,
  args: PathArguments,
  document: object,
  entries: readonly PathEntry[],
): Promise<void> {
  let content: string;
  if (args.format === '.csv') {
    const axes = entries[0]!.result.effect.axes;
    const lines = [['receivers', ...axes, 'effect', 'normalized'].join(',')];
    for (const { receivers, result } of entries) {
      const { shape, values } = result.effect;
      values.forEach((effect, flat) => {
        const coordinates: number[] = [];
        let rest = flat;
        for (let axis = shape.length - 1; axis >= 0; axis--) {
          coordinates.unshift(rest % shape[axis]!);
          rest = Math.floor(rest / shape[axis]!);
        }
        const labels = result.effect.labels;
        const cells = axes.map(
          (name, axis) => labels?.[name]?.[coordinates[axis]!] ?? String(coordinates[axis]),
        );
        lines.push(
          [
            quote(receivers),
            ...cells.map((cell) => (/[,"]/.test(cell) ? quote(cell) : cell)),
            effect,
            result.normalized.values[flat],
          ].join(','),
        );
      });
    }
    content = `${lines.join('\n')}\n`;
  } else {
    content = `${JSON.stringify(document)}\n`;
  }
  if (args.out === undefined) {
    io.stdout.write(content);
    return;
  }
  await writeAtomically(`patchlens path: --out ${quote(args.out)}`, args.out, (temporary) =>
    writeFile(temporary, content),
  );
  io.stderr.write(`results: ${args.out}\n`);
}

async function writeHeatmap(io: CommandIO, args: PathArguments, entries: readonly PathEntry[]) {
  const directory = args.svg!;
  const where = `patchlens path: --svg ${quote(directory)}`;
  if (args.senders !== 'all-heads') {
    io.stderr.write(
      'heatmaps: --svg draws every head as a sender; with a sender list it writes nothing.\n',
    );
    return;
  }
  const { pathHeatmap } = await import('@patchlens/viz');
  const { clean, corrupted } = entries[0]!.result;
  const figure = pathHeatmap(
    entries.map(({ receivers, result }) => ({
      receiver: receivers,
      values: result.normalized.values,
      shape: result.normalized.shape as [number, number],
    })),
    {
      subtitle: `(path-patched - clean) / (clean - corrupted); clean logit diff ${clean.toPrecision(4)}, corrupted ${corrupted.toPrecision(4)}`,
    },
  );
  const svg = await figure.toSVG();
  await createOutputFolder(where, directory);
  await writeAtomically(where, join(directory, 'path.svg'), (temporary) =>
    writeFile(temporary, svg),
  );
  io.stderr.write(`heatmaps: ${directory}\n`);
}
