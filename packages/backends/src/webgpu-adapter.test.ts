import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { useBackend } from './testing.js';
import {
  activeWebGPUAdapter,
  formatWebGPUAdapter,
  summarizeWebGPUAdapter,
} from './webgpu-adapter.js';

describe('summarizeWebGPUAdapter', () => {
  it('reads GPUAdapterInfo and calls a hardware adapter hardware', () => {
    const info = {
      vendor: 'nvidia',
      architecture: 'hopper',
      device: '0x2335',
      description: 'NVIDIA H200',
    };
    expect(summarizeWebGPUAdapter({ info: { ...info, isFallbackAdapter: false } })).toEqual({
      ...info,
      software: false,
    });
  });

  it.each([
    ['a fallback adapter (GPUAdapterInfo)', { info: { vendor: 'x', isFallbackAdapter: true } }],
    [
      'a fallback adapter (older GPUAdapter field)',
      { info: { vendor: 'x' }, isFallbackAdapter: true },
    ],
    ['SwiftShader', { info: { vendor: 'google', architecture: 'swiftshader' } }],
    ['llvmpipe', { info: { vendor: 'mesa', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' } }],
    ['lavapipe', { info: { description: 'lavapipe' } }],
    ['WARP', { info: { description: 'Microsoft Basic Render Driver' } }],
  ])('calls %s software', (_, adapter) => {
    expect(summarizeWebGPUAdapter(adapter).software).toBe(true);
  });

  it('fills missing fields with empty strings', () => {
    expect(summarizeWebGPUAdapter({})).toEqual({
      vendor: '',
      architecture: '',
      device: '',
      description: '',
      software: false,
    });
  });
});

describe('formatWebGPUAdapter', () => {
  it('names vendor, architecture, description and the kind', () => {
    const adapter = summarizeWebGPUAdapter({
      info: {
        vendor: 'google',
        architecture: 'swiftshader',
        description: 'SwiftShader driver 5.0.0',
      },
    });
    expect(formatWebGPUAdapter(adapter)).toBe(
      'google swiftshader (SwiftShader driver 5.0.0), software',
    );
    expect(formatWebGPUAdapter(summarizeWebGPUAdapter({}))).toBe('unknown, hardware');
  });
});

describe('activeWebGPUAdapter', () => {
  it('is undefined when the active backend is not webgpu', async () => {
    await useBackend('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(activeWebGPUAdapter()).toBeUndefined();
  });
});
