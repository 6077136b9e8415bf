/**
 * Benchmark: how long `patchlens` takes to answer `--help`, `patch --help` and an argument error,
 * run as a fresh process each time (what a user waits for), for the built CLI (dist/bin.js, needs
 * `pnpm build`) and for the TypeScript source through tsx (the fallback of `pnpm patchlens`).
 *
 *   pnpm bench:cli-startup [--repeats N]
 *
 * Prints JSON: per command line the median wall and CPU time (ms) of each way, the wall-time ratio,
 * and the machine's load average during the run (wall times grow with load on a shared machine;
 * CPU time is close to what an idle machine's wall time would be).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { argv, execPath } from 'node:process';
import { fileURLToPath } from 'node:url';

// CPU time is what a start-up costs on an idle machine; wall time grows with the machine's load
const GNU_TIME = '/usr/bin/time';
const repeatsAt = argv.indexOf('--repeats');
const repeats = repeatsAt >= 0 ? Number(argv[repeatsAt + 1]) : 7;
const built = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
const source = fileURLToPath(new URL('../src/bin.ts', import.meta.url));
if (!existsSync(built)) {
  console.error('bench:cli-startup: packages/cli/dist/bin.js is missing; run pnpm build first.');
  process.exit(2);
}

const COMMAND_LINES: Record<string, string[]> = {
  help: ['--help'],
  'patch --help': ['patch', '--help'],
  'argument error': ['patch', '--model', 'x', '--metric', 'kl'],
};

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Wall time (ms) and, where /usr/bin/time exists, CPU time (user + system, ms) of one run. */
function time(args: string[]): { wall: number; cpu: number } {
  const started = performance.now();
  if (!existsSync(GNU_TIME)) {
    spawnSync(execPath, args, { stdio: 'ignore' });
    return { wall: performance.now() - started, cpu: Number.NaN };
  }
  const run = spawnSync(GNU_TIME, ['-f', '%U %S', execPath, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  const wall = performance.now() - started;
  const [user, system] = run.stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
  return { wall, cpu: 1000 * (user! + system!) };
}

const loadBefore = loadavg()[0]!;
const results: Record<string, Record<string, number>> = {};
for (const [name, args] of Object.entries(COMMAND_LINES)) {
  const builtTimes: { wall: number; cpu: number }[] = [];
  const sourceTimes: { wall: number; cpu: number }[] = [];
  for (let repeat = 0; repeat < repeats; repeat++) {
    builtTimes.push(time([built, ...args]));
    sourceTimes.push(time(['--conditions=source', '--import', 'tsx', source, ...args]));
  }
  const builtWall = median(builtTimes.map((entry) => entry.wall));
  const sourceWall = median(sourceTimes.map((entry) => entry.wall));
  results[name] = {
    builtWallMs: Math.round(builtWall),
    builtCpuMs: Math.round(median(builtTimes.map((entry) => entry.cpu))),
    sourceWallMs: Math.round(sourceWall),
    sourceCpuMs: Math.round(median(sourceTimes.map((entry) => entry.cpu))),
    wallRatio: Number((sourceWall / builtWall).toFixed(1)),
  };
}
console.log(
  JSON.stringify(
    {
      repeats,
      node: process.version,
      loadAverage1m: { before: loadBefore, after: loadavg()[0]! },
      results,
    },
    null,
    2,
  ),
);
