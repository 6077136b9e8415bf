// The bundled IOI model on tfjs-backend-webgpu in Node (Dawn on SwiftShader's software Vulkan
// driver) against the wasm backend: same forward, same fast-engine sweeps, no leaked tensors.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SWIFTSHADER_ICD, swiftShaderEnvironment } from '@patchlens/backends/testing';
import { describe, expect, it } from 'vitest';
import { bundledModelFolder } from './test-support/bundled-model-folder.js';

const CHILD = fileURLToPath(new URL('./test-support/webgpu-parity-child.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
// SwiftShader is slow, mostly compiling tfjs's shaders (tens of seconds on a loaded 2-core
// machine): one prompt, and room for a slow machine.
const PROMPTS = 1;
const CHILD_TIMEOUT_MS = 240_000;
const environment = swiftShaderEnvironment();
const modelFolder = bundledModelFolder();

function largestDifference(a: readonly number[], b: readonly number[]): number {
  expect(a).toHaveLength(b.length);
  return Math.max(...a.map((value, i) => Math.abs(value - b[i]!)));
}

describe.skipIf(!environment || !modelFolder)(
  `the bundled IOI model on webgpu in Node (skipped when ${SWIFTSHADER_ICD} or the bundled model is absent)`,
  () => {
    it(
      'gives the forward, resid_pre and attn_head_out_all_pos of wasm to 1e-4, leaking nothing',
      () => {
        const child = spawnSync(
          process.execPath,
          ['--import', 'tsx', '--conditions=source', CHILD, modelFolder!, String(PROMPTS)],
          {
            cwd: REPO_ROOT,
            env: { ...process.env, ...environment },
            encoding: 'utf8',
            timeout: CHILD_TIMEOUT_MS,
            maxBuffer: 64 * 2 ** 20, // two runs of 50257 logits as JSON exceed the 1 MiB default
          },
        );
        expect(
          child.signal,
          `the child was stopped (${child.error}): it did not end by itself?\n${child.stderr}`,
        ).toBeNull();
        expect(child.status, child.stderr).toBe(0);
        const { wasm, webgpu } = JSON.parse(child.stdout.trim().split('\n').at(-1)!);
        expect(wasm.backend).toBe('wasm');
        expect(webgpu.backend).toBe('webgpu');
        expect(webgpu.adapter.software).toBe(true);
        for (const output of ['forward', 'resid_pre', 'attn_head_out_all_pos']) {
          expect(wasm[output].length, output).toBeGreaterThan(0);
          expect(largestDifference(webgpu[output], wasm[output]), output).toBeLessThanOrEqual(1e-4);
        }
        expect(webgpu.leaks).toEqual({ forward: 0, resid_pre: 0, attn_head_out_all_pos: 0 });
        expect(wasm.leaks).toEqual({ forward: 0, resid_pre: 0, attn_head_out_all_pos: 0 });
      },
      CHILD_TIMEOUT_MS + 10_000,
    );
  },
);
