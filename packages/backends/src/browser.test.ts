import { InvalidArgumentError } from '@patchlens/errors';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { BackendPreference } from './backend-names.js';
import { initBrowserBackend } from './browser.js';

// Node cannot load tfjs-core's ESM gradient registration (it is meant for bundlers); these tests
// check the backend choice only, so that import is replaced by nothing here.
vi.mock('@tensorflow/tfjs-core/dist/register_all_gradients.js', () => ({}));

describe('initBrowserBackend (run in Node)', () => {
  it('auto skips the unregistered GPU backends and starts wasm', async () => {
    expect(tf.findBackendFactory('webgpu')).toBeNull();
    expect(await initBrowserBackend()).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
  });

  it.each(['cpu', 'wasm'] as const)('starts %s on request', async (name) => {
    expect(await initBrowserBackend(name)).toBe(name);
    expect(tf.getBackend()).toBe(name);
  });

  it('names the package to import for an unregistered GPU backend', async () => {
    await expect(initBrowserBackend('webgpu')).rejects.toThrow(
      /"webgpu" is not registered; add `import '@tensorflow\/tfjs-backend-webgpu'`/,
    );
  });

  it('rejects tensorflow and unknown names', async () => {
    for (const name of ['tensorflow', 'gpu', 7] as unknown as BackendPreference[]) {
      await expect(initBrowserBackend(name)).rejects.toThrow(InvalidArgumentError);
    }
    await expect(initBrowserBackend('tensorflow')).rejects.toThrow(/runs only|not available/);
  });

  describe('a WebGPU adapter (stubbed navigator.gpu; a cpu backend stands in for webgpu)', () => {
    const adapter = (info: object) => {
      vi.stubGlobal('navigator', { gpu: { requestAdapter: async () => ({ info }) } });
      tf.registerBackend('webgpu', () => new MathBackendCPU());
    };
    afterEach(() => {
      vi.unstubAllGlobals();
      tf.removeBackend('webgpu');
    });

    it('auto takes a hardware adapter', async () => {
      adapter({ vendor: 'nvidia', architecture: 'hopper', isFallbackAdapter: false });
      expect(await initBrowserBackend()).toBe('webgpu');
    });

    it.each([
      { vendor: 'google', architecture: 'swiftshader' },
      { vendor: 'nvidia', architecture: '', isFallbackAdapter: true },
      { vendor: 'mesa', architecture: '', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' },
    ])(
      'auto passes over the software adapter %o (to wasm here: no WebGL in Node)',
      async (info) => {
        adapter(info);
        expect(await initBrowserBackend()).toBe('wasm');
      },
    );

    it('a request by name takes a software adapter', async () => {
      adapter({ vendor: 'google', architecture: 'swiftshader' });
      expect(await initBrowserBackend('webgpu')).toBe('webgpu');
    });
  });
});
