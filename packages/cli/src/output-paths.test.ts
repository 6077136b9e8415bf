import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeAtomically } from './output-paths.js';
import { UsageError } from './usage-error.js';

describe('writeAtomically', () => {
  it('leaves no file (and no temporary) when writing fails half-way', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'patchlens-atomic-'));
    const path = join(folder, 'r.json');
    const failure = writeAtomically('patchlens patch: --out "r.json"', path, async (temporary) => {
      await writeFile(temporary, '{"half":');
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    });
    await expect(failure).rejects.toThrow(UsageError);
    await expect(failure).rejects.toThrow(
      'patchlens patch: --out "r.json": cannot write the file: no space left on the device (ENOSPC).',
    );
    expect(existsSync(path)).toBe(false);
    expect(await readdir(folder)).toEqual([]);
  });

  it('keeps the previous file until the new one is complete, then replaces it', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'patchlens-atomic-'));
    const path = join(folder, 'r.json');
    await writeFile(path, 'old');
    await writeAtomically('x', path, async (temporary) => {
      expect(await readFile(path, 'utf8')).toBe('old');
      await writeFile(temporary, 'new');
    });
    expect(await readFile(path, 'utf8')).toBe('new');
    expect(await readdir(folder)).toEqual(['r.json']);
  });
});
