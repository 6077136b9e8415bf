import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** Where Debian's `chromium` package puts SwiftShader's Vulkan driver (ICD manifest). */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/**
 * Environment variables that give Dawn (and so `initNodeBackend('webgpu')`) SwiftShader's software
 * Vulkan driver, for testing WebGPU code on a machine without a GPU; `undefined` when the driver
 * is not there. They must be set when a process starts (the dynamic linker reads
 * `LD_LIBRARY_PATH` then): pass them to a child process.
 *
 * `LD_LIBRARY_PATH` also lends Chromium's copy of the Vulkan loader (`libvulkan.so.1`), so no
 * `libvulkan1` package is needed; `XDG_RUNTIME_DIR` gets a fresh folder because the loader
 * wants one.
 *
 * @param icd - the ICD manifest; default {@link SWIFTSHADER_ICD}.
 * @example
 * ```ts
 * const env = swiftShaderEnvironment();
 * if (env) spawnSync(process.execPath, ['my-webgpu-test.js'], { env: { ...process.env, ...env } });
 * ```
 */
export function swiftShaderEnvironment(icd = SWIFTSHADER_ICD): Record<string, string> | undefined {
  if (!existsSync(icd)) return undefined;
  const libraries = [dirname(icd), process.env['LD_LIBRARY_PATH']].filter((path) => path);
  return {
    VK_ICD_FILENAMES: icd,
    LD_LIBRARY_PATH: libraries.join(':'),
    XDG_RUNTIME_DIR: mkdtempSync(join(tmpdir(), 'patchlens-xdg-')),
  };
}
