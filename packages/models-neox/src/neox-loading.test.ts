import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { useBackend } from '@patchlens/backends/testing';
import { loadDecoder } from '@patchlens/decoder';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { NEOX_FAMILY } from './neox-family.js';
import { loadNeoXFromFolder } from './node.js';

const folder = fileURLToPath(
  new URL('../test/fixtures/transformerlens/neox/checkpoint/', import.meta.url),
);
const tokenizerJson = readFileSync(
  fileURLToPath(
    new URL('../../decoder/test/fixtures/byte-level-bpe.tokenizer.json', import.meta.url),
  ),
  'utf8',
);
const files: Record<string, Uint8Array<ArrayBuffer> | string> = {
  'config.json': readFileSync(`${folder}config.json`, 'utf8'),
  'model.safetensors': new Uint8Array(readFileSync(`${folder}model.safetensors`)),
  'tokenizer.json': tokenizerJson,
};
const TOKENS = [[3, 150, 77, 12, 260]];

async function lastLogits(
  load: () => Promise<{ forward: (t: tf.Tensor) => tf.Tensor; dispose: () => void }>,
) {
  const model = await load();
  const tokens = tf.tensor2d(TOKENS, undefined, 'int32');
  const logits = model.forward(tokens);
  const values = Array.from(logits.dataSync());
  tf.dispose([tokens, logits]);
  model.dispose();
  return values;
}

describe('loadDecoder (browser-style sources) on a GPT-NeoX checkpoint', () => {
  let fromFolder: number[];
  beforeAll(async () => {
    await useBackend('cpu');
    fromFolder = await lastLogits(() => loadNeoXFromFolder(folder));
  });

  it('picked files (as the web app passes them) give the folder loader numbers and the tokenizer', async () => {
    const blobs = new Map(
      Object.entries(files).map(([name, bytes]) => [`pythia/${name}`, new Blob([bytes])]),
    );
    const model = await loadDecoder(blobs, [NEOX_FAMILY]);
    expect(model.tokenizer?.defaultPrependBos).toBe(false);
    expect(model.toTokens('hello world').arraySync()).toEqual([[12, 17]]);
    model.dispose();
    expect(await lastLogits(() => loadDecoder(blobs, [NEOX_FAMILY]))).toEqual(fromFolder);
  });

  it('a folder URL (fetch) gives the same numbers', async () => {
    const fetchFiles: typeof fetch = async (input) => {
      const name = String(input).split('/').pop()!;
      const body = files[name];
      return body === undefined ? new Response('missing', { status: 404 }) : new Response(body);
    };
    const values = await lastLogits(() =>
      loadDecoder('https://example.test/pythia', [NEOX_FAMILY], { fetch: fetchFiles }),
    );
    expect(values).toEqual(fromFolder);
  });

  it('without config.json: an error that says what a checkpoint holds', async () => {
    await expect(
      loadDecoder(new Map([['model.safetensors', new Blob([])]]), [NEOX_FAMILY]),
    ).rejects.toThrow(/config\.json/);
  });
});
