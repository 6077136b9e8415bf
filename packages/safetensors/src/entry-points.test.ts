import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as main from './index.js';
import * as node from './node.js';
import * as tfjs from './tfjs.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Every module specifier reachable from `entry` through relative imports. */
function reachableImports(entry: string): Set<string> {
  const seen = new Set<string>();
  const specifiers = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(join(here, file), 'utf8');
    for (const match of source.matchAll(/^(?:import|export)(?:[^'"]*from\s+|\s+)'([^']+)'/gm)) {
      const specifier = match[1]!;
      if (specifier.startsWith('./')) visit(specifier.slice(2).replace(/\.js$/, '.ts'));
      else specifiers.add(specifier);
    }
  };
  visit(entry);
  return specifiers;
}

describe('entry points', () => {
  it('the main entry imports nothing platform-specific and no tensor library', () => {
    expect([...reachableImports('index.ts')].sort()).toEqual(['@patchlens/errors']);
  });

  it('the tfjs entry is where @tensorflow/tfjs-core comes in', () => {
    expect([...reachableImports('tfjs.ts')].sort()).toEqual([
      '@patchlens/errors',
      '@tensorflow/tfjs-core',
    ]);
    expect(Object.keys(tfjs).sort()).toEqual([
      'fromTfTensors',
      'toTfTensor',
      'toTfTensors',
      'writeTfTensors',
    ]);
  });

  it('the Node entry is where fs comes in', () => {
    expect(reachableImports('node.ts')).toContain('node:fs/promises');
  });

  it('exports the documented functions', () => {
    expect(Object.keys(main).sort()).toEqual([
      'fetchSafetensors',
      'fetchSafetensorsHeader',
      'fetchShardedSafetensors',
      'parseShardedIndex',
      'readSafetensors',
      'readSafetensorsBlob',
      'readSafetensorsHeader',
      'writeSafetensors',
    ]);
    expect(Object.keys(node).sort()).toEqual([
      'readSafetensorsFile',
      'readSafetensorsFileHeader',
      'readShardedSafetensors',
      'writeSafetensorsFile',
    ]);
  });
});
