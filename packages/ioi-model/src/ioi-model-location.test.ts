import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as main from './index.js';
import * as node from './node.js';

describe('@patchlens/ioi-model', () => {
  it('points at the checkpoint folder next to src/ (and next to dist/ once built)', () => {
    const expected = fileURLToPath(new URL('../model/', import.meta.url));
    expect(node.ioiModelFolder).toBe(expected);
    expect(fileURLToPath(main.ioiModelUrl)).toBe(expected);
    for (const file of main.IOI_MODEL_FILES)
      expect(existsSync(join(expected, file)), file).toBe(true);
  });

  it('holds the GPT-2 checkpoint its model card describes (2 layers, 4 heads, d_model 64)', () => {
    const config = JSON.parse(readFileSync(join(node.ioiModelFolder, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ n_layer: 2, n_head: 4, n_embd: 64, vocab_size: 50257 });
  });

  it('is in the published files, model card included', () => {
    const manifest = JSON.parse(
      readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8'),
    );
    expect(manifest.files).toContain('model');
    expect(existsSync(join(node.ioiModelFolder, 'README.md'))).toBe(true);
  });
});
