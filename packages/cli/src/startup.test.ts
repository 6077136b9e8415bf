import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const main = fileURLToPath(new URL('./main.ts', import.meta.url));

/** Runs runPatchlens(argv) in a fresh Node and reports whether tfjs-core was loaded (its engine global). */
function loadsTfjs(argv: string[]): { code: number; tfjs: boolean } {
  const script = `const { runPatchlens } = await import(${JSON.stringify(main)});
const quiet = { stdout: { write() {} }, stderr: { write() {} } };
const code = await runPatchlens(${JSON.stringify(argv)}, quiet);
console.log(JSON.stringify({ code, tfjs: globalThis._tfengine !== undefined }));`;
  const output = execFileSync(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', script],
    { encoding: 'utf8' },
  );
  return JSON.parse(output.trim().split('\n').at(-1)!);
}

describe('patchlens start-up', () => {
  it('answers --help and an unknown command without loading tfjs; a command loads it', () => {
    expect(loadsTfjs(['--help'])).toEqual({ code: 0, tfjs: false });
    expect(loadsTfjs(['trian'])).toEqual({ code: 2, tfjs: false });
    // the check can fail: running a command does load tfjs
    expect(loadsTfjs(['patch', '--help'])).toEqual({ code: 0, tfjs: true });
  }, 60_000);
});
