// A user who installs only @patchlens/safetensors (and what it depends on): no tensor library comes
// with it, and the main entry reads and writes without one. Run by check.sh in its own project.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readSafetensors, writeSafetensors } from '@patchlens/safetensors';

assert.equal(existsSync('node_modules/@tensorflow'), false, 'a tensor library was installed');
const bytes = writeSafetensors({ w: { dtype: 'F16', shape: [2], data: [0.5, -2] } });
const { tensors } = readSafetensors(bytes);
assert.deepEqual([...tensors.get('w').data], [0.5, -2]);
console.log('safetensors-alone.mjs: ok, no @tensorflow/* installed');
