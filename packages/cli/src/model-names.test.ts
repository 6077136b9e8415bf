import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ioiModelFolder } from '@patchlens/ioi-model/node';
import { describe, expect, it } from 'vitest';
import { runCli } from './test-support/run-cli.js';

describe('--model names', () => {
  it('--model ioi loads the bundled IOI model (@patchlens/ioi-model)', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'patchlens-cli-ioi-')), 'r.json');
    const result = await runCli([
      'patch',
      '--model',
      'ioi',
      '--backend',
      'cpu',
      '--no-process-weights',
      '--clean-ids',
      '50256,1722,5335,290',
      '--corrupted-ids',
      '50256,1722,1757,290',
      '--answer',
      '5335',
      '--wrong',
      '1757',
      '--patch',
      'resid_pre',
      '--out',
      out,
    ]);
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.code).toBe(0);
    const json = JSON.parse(await readFile(out, 'utf8'));
    // dimensions from the checkpoint's own config.json
    const config = JSON.parse(await readFile(join(ioiModelFolder, 'config.json'), 'utf8'));
    expect(json.model).toMatchObject({ nLayers: config.n_layer, nHeads: config.n_head });
  });

  it('exits 2 with one line for a model name with an empty revision', async () => {
    const result = await runCli([
      'patch',
      '--model',
      'user/repo@',
      '--backend',
      'cpu',
      '--clean-ids',
      '50256,1722,5335,290',
      '--corrupted-ids',
      '50256,1722,1757,290',
      '--answer',
      '5335',
      '--wrong',
      '1757',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n').at(-1)).toMatch(/empty revision/);
  });
});
