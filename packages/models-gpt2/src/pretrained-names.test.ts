import { useBackend } from '@patchlens/backends/testing';
import { InvalidArgumentError, PatchLensError } from '@patchlens/tensor-hooks';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { readGPT2Checkpoint } from './checkpoint-reading.js';
import { GPT2 } from './gpt2.js';
import { resolvePretrainedName } from './pretrained-names.js';
import { memoryFetch, tinyCheckpointFiles } from './test-support/tiny-checkpoint.js';

// Expected URLs follow the Hugging Face Hub's file URL scheme, https://huggingface.co/{repo}/resolve/{revision}/{file},
// and TransformerLens's OFFICIAL_MODEL_NAMES / MODEL_ALIASES (loading_from_pretrained.py) for the names.
describe('resolvePretrainedName', () => {
  it.each([
    ['gpt2', 'openai-community/gpt2'],
    ['gpt2-small', 'openai-community/gpt2'],
    ['GPT2-Small', 'openai-community/gpt2'],
    ['gpt2-medium', 'openai-community/gpt2-medium'],
    ['gpt2-large', 'openai-community/gpt2-large'],
    ['gpt2-xl', 'openai-community/gpt2-xl'],
    ['distilgpt2', 'distilbert/distilgpt2'],
    ['distil-gpt2', 'distilbert/distilgpt2'],
  ])('maps the TransformerLens name %s to %s on main', (name, repo) => {
    expect(resolvePretrainedName(name)).toEqual({
      name,
      repo,
      revision: 'main',
      url: `https://huggingface.co/${repo}/resolve/main/`,
    });
  });

  it('takes Hugging Face ids, with an optional revision', () => {
    expect(resolvePretrainedName('openai-community/gpt2')?.url).toBe(
      'https://huggingface.co/openai-community/gpt2/resolve/main/',
    );
    expect(resolvePretrainedName('some-user/my.model_v2@a1b2c3d')).toMatchObject({
      repo: 'some-user/my.model_v2',
      revision: 'a1b2c3d',
      url: 'https://huggingface.co/some-user/my.model_v2/resolve/a1b2c3d/',
    });
    expect(resolvePretrainedName('user/repo@refs/pr/1')?.url).toBe(
      'https://huggingface.co/user/repo/resolve/refs%2Fpr%2F1/',
    );
  });

  it('leaves URLs, paths and unknown names alone', () => {
    for (const name of [
      'https://huggingface.co/openai-community/gpt2/resolve/main',
      './models/ioi',
      '/tmp/gpt2',
      'models/ioi/',
      'gpt3',
      'a/b/c',
      '',
    ]) {
      expect(resolvePretrainedName(name), name).toBeUndefined();
    }
  });

  it('rejects an empty revision', () => {
    expect(() => resolvePretrainedName('user/repo@')).toThrow(InvalidArgumentError);
  });
});

describe('loading by name', () => {
  beforeAll(() => useBackend('cpu'));

  it('reads the files from the resolved Hugging Face folder', async () => {
    const base = 'https://huggingface.co/openai-community/gpt2/resolve/main/';
    const { files } = tinyCheckpointFiles({});
    const before = tf.memory().numTensors;
    const model = await GPT2.fromPretrained('gpt2', {
      fetch: memoryFetch(base, files),
      processWeights: false,
    });
    expect(model.config.nLayers).toBeGreaterThan(0);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('offline: says what it tried to reach and how to use a folder instead', async () => {
    const asked: string[] = [];
    const unreachable: typeof fetch = async (input) => {
      asked.push(String(input));
      throw new TypeError('fetch failed');
    };
    const before = tf.memory().numTensors;
    const error = await GPT2.fromPretrained('gpt2-medium@v1', { fetch: unreachable }).catch(
      (caught: unknown) => caught,
    );
    // not an alias with a revision: 'gpt2-medium@v1' is neither an alias nor user/repo
    expect(InvalidArgumentError.isInstance(error)).toBe(true);

    const offline = await readGPT2Checkpoint('distilgpt2', { fetch: unreachable }).catch(
      (caught: unknown) => caught,
    );
    expect(asked).toEqual([
      'https://huggingface.co/distilbert/distilgpt2/resolve/main/config.json',
    ]);
    expect(PatchLensError.isInstance(offline)).toBe(true);
    const message = (offline as Error).message;
    expect(message).toContain(
      'https://huggingface.co/distilbert/distilgpt2/resolve/main/config.json',
    );
    expect(message).toContain('fetch failed');
    expect(message).toContain('distilbert/distilgpt2');
    expect(message).toContain('loadGPT2FromFolder');
    expect(message).toContain('--model path/to/folder');
    expect(tf.memory().numTensors).toBe(before);
  });

  it('names the repository when the Hub answers an HTTP error', async () => {
    const notFound: typeof fetch = async () =>
      new Response('', { status: 404, statusText: 'Not Found' });
    await expect(readGPT2Checkpoint('someone/missing@dev', { fetch: notFound })).rejects.toThrow(
      /GET https:\/\/huggingface\.co\/someone\/missing\/resolve\/dev\/config\.json answered HTTP 404.*someone\/missing at revision dev/,
    );
  });
});
