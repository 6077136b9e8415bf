import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const source = dirname(fileURLToPath(import.meta.url));

/** Every relative module the entry point reaches, with the bare imports of each. */
async function reachable(entry: string): Promise<Map<string, string[]>> {
  const seen = new Map<string, string[]>();
  const visit = async (file: string) => {
    if (seen.has(file)) return;
    const text = await readFile(join(source, file), 'utf8');
    const specifiers = [...text.matchAll(/^(?:import|export)[^;]*?from '([^']+)'/gm)].map(
      (match) => match[1]!,
    );
    seen.set(
      file,
      specifiers.filter((specifier) => !specifier.startsWith('.')),
    );
    for (const specifier of specifiers.filter((s) => s.startsWith('./'))) {
      await visit(specifier.slice(2).replace(/\.js$/, '.ts'));
    }
  };
  await visit(entry);
  return seen;
}

describe('entry points', () => {
  it('the main entry reaches no Node-only module (browser-safe)', async () => {
    const modules = await reachable('index.ts');
    expect(modules.has('node.ts')).toBe(false);
    for (const [file, imports] of modules) {
      for (const specifier of imports) {
        expect(
          specifier.startsWith('node:') || specifier.endsWith('/node') || specifier === 'fs',
          `${file}: ${specifier}`,
        ).toBe(false);
      }
    }
  });

  it('the Node entry adds the folder loader', async () => {
    const modules = await reachable('node.ts');
    expect(modules.get('node.ts')).toContain('@patchlens/safetensors/node');
  });
});
