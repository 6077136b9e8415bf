#!/usr/bin/env node
// `pnpm demo`: the IOI patching demo on the bundled model (or --model DIR|URL), writing demo-output/.
import { parseArgs } from 'node:util';
import { PatchLensError } from '@patchlens/tensor-hooks';
import { QUICK_SWEEPS } from './demo/demo-sweeps.js';
import { runDemo } from './demo/run-demo.js';

const USAGE = `pnpm demo [--model DIR|URL] [--out DIR (default demo-output)] [--quick] [--backend auto|wasm|cpu|tensorflow]`;

async function main(): Promise<number> {
  let values: { model?: string; out?: string; quick?: boolean; backend?: string; help?: boolean };
  try {
    values = parseArgs({
      options: {
        model: { type: 'string' },
        out: { type: 'string', default: 'demo-output' },
        quick: { type: 'boolean', default: false },
        backend: { type: 'string', default: 'auto' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const started = performance.now();
  try {
    const outcome = await runDemo({
      ...(values.model === undefined ? {} : { model: values.model }),
      outDir: values.out ?? 'demo-output',
      ...(values.quick ? { sweeps: QUICK_SWEEPS, prompts: 4 } : {}),
      backend: (values.backend ?? 'auto') as 'auto',
      io: process,
    });
    process.stdout.write(
      [
        `report:  ${outcome.report}`,
        `results: ${outcome.results}`,
        `csv:     ${outcome.csv.join(', ')}`,
        '',
        ...outcome.summary.map((line) => `- ${line}`),
        `(${((performance.now() - started) / 1000).toFixed(1)} s)`,
        '',
      ].join('\n'),
    );
    return 0;
  } catch (error) {
    process.stderr.write(
      `${PatchLensError.isInstance(error) ? error.message : (error as Error).stack}\n`,
    );
    return PatchLensError.isInstance(error) ? 2 : 1;
  }
}

process.exitCode = await main();
