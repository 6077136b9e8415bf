import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SWIFTSHADER_ICD, swiftShaderEnvironment } from './swiftshader.js';

const CHILD = fileURLToPath(new URL('./test-support/webgpu-child.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const environment = swiftShaderEnvironment();

/** Runs the child script; a process that does not end by itself is killed after 60 s (signal set). */
function runChild(mode: 'ops' | 'throw') {
  return spawnSync(process.execPath, ['--import', 'tsx', '--conditions=source', CHILD, mode], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...environment },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe.skipIf(!environment)(
  `initNodeBackend('webgpu') on SwiftShader in a child process (skipped when ${SWIFTSHADER_ICD} is absent: apt install chromium)`,
  () => {
    it('names the software adapter, computes what plain arithmetic gives, leaks nothing, ends by itself', () => {
      const child = runChild('ops');
      expect(
        child.signal,
        `the child was stopped (${child.error}): it did not end by itself?\n${child.stderr}`,
      ).toBeNull();
      expect(child.status, child.stderr).toBe(0);
      const [json, lost] = child.stdout.trim().split('\n');
      const report = JSON.parse(json!);
      expect(report.auto).toBe('wasm'); // a software adapter only when asked for by name
      expect(report.backend).toBe('webgpu');
      expect(report.adapter).toMatchObject({
        vendor: 'google',
        architecture: 'swiftshader',
        software: true,
      });
      // [[1.5, -2, 0.25], [3, 4, -1]] @ [[2, 0.5], [-1, 1], [0, -3]], by hand
      const product = [1.5 * 2 + 2, 1.5 * 0.5 - 2 - 0.75, 6 - 4, 1.5 + 4 + 3];
      for (const [i, value] of product.entries())
        expect(report.result.matMul[i]).toBeCloseTo(value, 5);
      const softmaxRow = (x: number, y: number) => [
        1 / (1 + Math.exp(y - x)),
        1 / (1 + Math.exp(x - y)),
      ];
      const softmax = [
        ...softmaxRow(product[0]!, product[1]!),
        ...softmaxRow(product[2]!, product[3]!),
      ];
      for (const [i, value] of softmax.entries())
        expect(report.result.softmax[i]).toBeCloseTo(value, 5);
      expect(report.leaked).toBe(0);
      expect(lost).toBe('device lost: destroyed');
      expect(child.stderr).not.toMatch(/looks like you are running TensorFlow\.js in Node/);
    });
  },
);

describe('an uncaught error after initNodeBackend', () => {
  it("prints the user's error, not tfjs-backend-wasm's source, and exits 1", () => {
    const child = runChild('throw');
    expect(child.signal).toBeNull();
    expect(child.status, child.stderr.slice(0, 500)).toBe(1);
    expect(child.stderr).toContain('Error: the user script failed here');
    expect(child.stderr).not.toContain('WasmBackendModule');
    expect(child.stderr.length).toBeLessThan(2_000);
  });
});
