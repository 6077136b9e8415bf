#!/usr/bin/env node
// `pnpm patchlens` from the repository root: runs the built CLI (dist/bin.js, starts in well under a
// second) when every package's dist/ is newer than its src/, else the TypeScript source through tsx
// (no build needed, but compiling takes seconds). `pnpm build` makes the fast path available.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const cli = dirname(fileURLToPath(import.meta.url));
const packages = dirname(cli);

/** Newest modification time (ms) of the .ts files under `folder` (tests excluded). */
function newestSource(folder) {
  let newest = 0;
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) {
      newest = Math.max(newest, statSync(path).mtimeMs);
    }
  }
  return newest;
}

function builtIsCurrent() {
  for (const name of readdirSync(packages)) {
    const source = join(packages, name, 'src');
    const built = join(packages, name, 'dist', 'index.js');
    if (!existsSync(source)) continue;
    if (!existsSync(built) || statSync(built).mtimeMs < newestSource(source)) return false;
  }
  return true;
}

if (builtIsCurrent()) {
  await import(pathToFileURL(join(cli, 'dist', 'bin.js')).href);
} else {
  const result = spawnSync(
    process.execPath,
    [
      '--conditions=source',
      '--import',
      'tsx',
      join(cli, 'src', 'bin.ts'),
      ...process.argv.slice(2),
    ],
    { stdio: 'inherit' },
  );
  process.exitCode = result.status ?? 1;
}
