import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('package boundaries', () => {
  it('library code imports no model family and nothing Node-only (only tests and test-support may)', () => {
    const folder = new URL('.', import.meta.url).pathname;
    const files = readdirSync(folder).filter(
      (name) => name.endsWith('.ts') && !name.endsWith('.test.ts'),
    );
    expect(files.length).toBeGreaterThan(10);
    for (const name of files) {
      const text = readFileSync(join(folder, name), 'utf8');
      expect(text, name).not.toMatch(/from '@patchlens\/models-gpt2'/);
      expect(text, name).not.toMatch(/from 'node:/);
      expect(text, name).not.toMatch(/from '\.\/test-support\//);
    }
  });
});
