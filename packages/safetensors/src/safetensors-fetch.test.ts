import {
  AbortError,
  InvalidArgumentError,
  PatchLensError,
  SafetensorsFormatError,
} from '@patchlens/errors';
import { afterEach, describe, expect, it } from 'vitest';
import { fetchSafetensors, fetchSafetensorsHeader } from './safetensors-fetch.js';
import { readSafetensors, readSafetensorsHeader } from './safetensors-reader.js';
import { writeSafetensors } from './safetensors-writer.js';
import { fetchShardedSafetensors } from './sharded-fetch.js';
import {
  type RangeServer,
  type RangeServerOptions,
  startRangeServer,
} from './test-support/range-server.js';

const model = writeSafetensors(
  {
    'wte.weight': {
      shape: [64, 16],
      data: Float32Array.from({ length: 1024 }, (_, index) => index / 7),
    },
    'wpe.weight': {
      shape: [8, 16],
      data: Float32Array.from({ length: 128 }, (_, index) => -index),
    },
    'ln_f.bias': { shape: [16], data: new Float32Array(16).fill(0.5), dtype: 'F16' },
    tokens: { shape: [3], data: new Int32Array([1, 2, 3]), dtype: 'I64' },
  },
  { metadata: { format: 'pt' } },
);
const header = readSafetensorsHeader(model);

let server: RangeServer | undefined;
async function serve(
  files: Record<string, Uint8Array>,
  options?: RangeServerOptions,
): Promise<RangeServer> {
  server = await startRangeServer(new Map(Object.entries(files)), options);
  return server;
}
afterEach(async () => {
  await server?.close();
  server = undefined;
});

type Progress = [number, number | undefined, string];

describe('fetchSafetensors, full mode', () => {
  it('downloads the file in one request and reports progress up to the total', async () => {
    const { baseUrl, requests } = await serve({ '/model.safetensors': model });
    const progress: Progress[] = [];
    const file = await fetchSafetensors(`${baseUrl}/model.safetensors`, {
      onProgress: (loaded, total, url) => progress.push([loaded, total, url]),
    });
    expect(file).toEqual(readSafetensors(model));
    expect(requests).toEqual([
      { path: '/model.safetensors', range: undefined, status: 200, bytesSent: model.length },
    ]);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toEqual([model.length, model.length, `${baseUrl}/model.safetensors`]);
    for (let index = 1; index < progress.length; index++) {
      expect(progress[index]![0]).toBeGreaterThan(progress[index - 1]![0]);
    }
  });

  it('calls a given fetch as a plain function (browsers reject fetch bound to another object)', async () => {
    const { baseUrl } = await serve({ '/model.safetensors': model });
    function browserLikeFetch(this: unknown, input: RequestInfo | URL, init?: RequestInit) {
      if (this !== undefined && this !== globalThis) throw new TypeError('Illegal invocation');
      return fetch(input, init);
    }
    const file = await fetchSafetensors(`${baseUrl}/model.safetensors`, {
      fetch: browserLikeFetch,
    });
    expect(file).toEqual(readSafetensors(model));
    const part = await fetchSafetensors(`${baseUrl}/model.safetensors`, {
      fetch: browserLikeFetch,
      tensorNames: [...header.tensors.keys()].slice(0, 1),
    });
    expect(part.tensors.size).toBe(1);
  });

  it('reaches the total without a Content-Length too', async () => {
    const { baseUrl } = await serve({ '/m': model }, { contentLength: false });
    const progress: Progress[] = [];
    await fetchSafetensors(`${baseUrl}/m`, { onProgress: (...call) => progress.push(call) });
    expect(progress.at(-1)?.slice(0, 2)).toEqual([model.length, model.length]);
  });

  it('throws SafetensorsFormatError for a truncated file', async () => {
    const { baseUrl } = await serve({ '/m': model.subarray(0, model.length - 10) });
    await expect(fetchSafetensors(`${baseUrl}/m`)).rejects.toThrow(SafetensorsFormatError);
  });

  it('throws PatchLensError with the status for HTTP errors', async () => {
    const { baseUrl } = await serve({});
    const error = await fetchSafetensors(`${baseUrl}/missing.safetensors`).catch(
      (caught: unknown) => caught,
    );
    expect(PatchLensError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain('HTTP 404');
  });

  it('throws InvalidArgumentError for a relative URL in Node', async () => {
    await expect(fetchSafetensors('model.safetensors')).rejects.toThrow(InvalidArgumentError);
  });

  it('throws AbortError when aborted', async () => {
    const { baseUrl } = await serve({ '/m': model });
    const controller = new AbortController();
    controller.abort();
    await expect(fetchSafetensors(`${baseUrl}/m`, { signal: controller.signal })).rejects.toThrow(
      AbortError,
    );
  });
});

describe('fetchSafetensors, range mode', () => {
  it('requests the length, the header, then only the wanted tensors', async () => {
    const { baseUrl, requests } = await serve({ '/model.safetensors': model });
    const progress: Progress[] = [];
    const wanted = ['wpe.weight', 'tokens'];
    const file = await fetchSafetensors(`${baseUrl}/model.safetensors`, {
      tensorNames: wanted,
      onProgress: (...call) => progress.push(call),
    });
    expect(file).toEqual(readSafetensors(model, { tensorNames: wanted }));

    const spans = wanted
      .map((name) => header.tensors.get(name)!.dataOffsets)
      .map(([begin, end]) => [header.dataStart + begin, header.dataStart + end - 1])
      .sort((a, b) => a[0]! - b[0]!)
      .map(([first, last]) => `bytes=${first}-${last}`);
    expect(requests.map((request) => request.range)).toEqual([
      'bytes=0-7',
      `bytes=8-${header.dataStart - 1}`,
      ...spans,
    ]);
    expect(requests.every((request) => request.status === 206)).toBe(true);
    const sent = requests.reduce((sum, request) => sum + request.bytesSent, 0);
    const needed = header.dataStart + 128 * 4 + 3 * 8;
    expect(sent).toBe(needed);
    expect(sent).toBeLessThan(model.length / 4);
    expect(progress.at(-1)?.slice(0, 2)).toEqual([needed, needed]);
  });

  it('reads the header alone with two requests', async () => {
    const { baseUrl, requests } = await serve({ '/m': model });
    expect(await fetchSafetensorsHeader(`${baseUrl}/m`)).toEqual(header);
    expect(requests.map((request) => request.range)).toEqual([
      'bytes=0-7',
      `bytes=8-${header.dataStart - 1}`,
    ]);
  });

  it('falls back to one full download when the server ignores Range', async () => {
    const { baseUrl, requests } = await serve({ '/m': model }, { ranges: false });
    const progress: Progress[] = [];
    const file = await fetchSafetensors(`${baseUrl}/m`, {
      tensorNames: ['tokens'],
      onProgress: (...call) => progress.push(call),
    });
    expect([...file.tensors.get('tokens')!.data]).toEqual([1, 2, 3]);
    expect(requests).toHaveLength(1);
    expect(progress.at(-1)?.slice(0, 2)).toEqual([model.length, model.length]);
  });

  it('detects a file shorter than its header says', async () => {
    const { baseUrl } = await serve({ '/m': model.subarray(0, model.length - 10) });
    const error = await fetchSafetensors(`${baseUrl}/m`, { tensorNames: ['tokens'] }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(SafetensorsFormatError);
  });

  it('detects a file too short for the length prefix', async () => {
    const { baseUrl } = await serve({ '/m': model.subarray(0, 5) });
    await expect(fetchSafetensors(`${baseUrl}/m`, { mode: 'range' })).rejects.toThrow(
      SafetensorsFormatError,
    );
  });

  it('refuses a huge header length without requesting it', async () => {
    const hostile = model.slice(0, 64);
    new DataView(hostile.buffer).setBigUint64(0, 2n ** 40n, true);
    const { baseUrl, requests } = await serve({ '/m': hostile });
    await expect(fetchSafetensors(`${baseUrl}/m`, { mode: 'range' })).rejects.toThrow(
      /100000000-byte limit/,
    );
    expect(requests).toHaveLength(1);
  });

  it('rejects an unknown mode', async () => {
    const { baseUrl } = await serve({ '/m': model });
    await expect(fetchSafetensors(`${baseUrl}/m`, { mode: 'fast' as 'full' })).rejects.toThrow(
      InvalidArgumentError,
    );
  });
});

describe('fetchShardedSafetensors', () => {
  const shard1 = writeSafetensors({
    a: { shape: [2], data: [1, 2] },
    b: { shape: [1], data: new Int32Array([3]) },
  });
  const shard2 = writeSafetensors(
    { c: { shape: [2], data: [4, 5] } },
    { metadata: { format: 'pt' } },
  );
  const index = new TextEncoder().encode(
    JSON.stringify({
      metadata: { total_size: 20 },
      weight_map: {
        a: 'shard 1.safetensors',
        b: 'shard 1.safetensors',
        c: 'sub/shard-2.safetensors',
      },
    }),
  );
  const files = {
    '/ckpt/model.safetensors.index.json': index,
    '/ckpt/shard 1.safetensors': shard1,
    '/ckpt/sub/shard-2.safetensors': shard2,
  };

  it('reads every shard whole, one request each, reporting progress per shard', async () => {
    const { baseUrl, requests } = await serve(files);
    const progress: Progress[] = [];
    const result = await fetchShardedSafetensors(`${baseUrl}/ckpt/model.safetensors.index.json`, {
      onProgress: (...call) => progress.push(call),
    });
    expect([...result.tensors.keys()].sort()).toEqual(['a', 'b', 'c']);
    expect([...result.tensors.get('c')!.data]).toEqual([4, 5]);
    expect(result.metadata).toEqual({ total_size: 20 });
    expect({ ...result.shardMetadata.get('sub/shard-2.safetensors') }).toEqual({ format: 'pt' });
    expect(requests.map((request) => [request.path, request.range])).toEqual([
      ['/ckpt/model.safetensors.index.json', undefined],
      ['/ckpt/shard 1.safetensors', undefined],
      ['/ckpt/sub/shard-2.safetensors', undefined],
    ]);
    const last = new Map(progress.map(([loaded, total, url]) => [url, [loaded, total]]));
    expect(last.get(`${baseUrl}/ckpt/shard%201.safetensors`)).toEqual([
      shard1.length,
      shard1.length,
    ]);
    expect(last.get(`${baseUrl}/ckpt/sub/shard-2.safetensors`)).toEqual([
      shard2.length,
      shard2.length,
    ]);
  });

  it('reads only the shards holding the wanted tensors, with Range requests', async () => {
    const { baseUrl, requests } = await serve(files);
    const result = await fetchShardedSafetensors(`${baseUrl}/ckpt/model.safetensors.index.json`, {
      tensorNames: ['c'],
    });
    expect([...result.tensors.keys()]).toEqual(['c']);
    expect(requests.filter((request) => request.path.includes('shard 1'))).toEqual([]);
    expect(requests.slice(1).every((request) => request.status === 206)).toBe(true);
  });

  it('rejects a tensor missing from its shard and a shard path leaving the folder', async () => {
    const broken = new TextEncoder().encode(
      JSON.stringify({ weight_map: { a: 'shard 1.safetensors', zz: 'shard 1.safetensors' } }),
    );
    const hostile = new TextEncoder().encode(
      JSON.stringify({ weight_map: { a: '../secret.safetensors' } }),
    );
    const { baseUrl } = await serve({
      ...files,
      '/ckpt/broken.json': broken,
      '/ckpt/hostile.json': hostile,
    });
    const error = await fetchShardedSafetensors(`${baseUrl}/ckpt/broken.json`).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(SafetensorsFormatError);
    expect((error as SafetensorsFormatError).tensorName).toBe('zz');
    await expect(fetchShardedSafetensors(`${baseUrl}/ckpt/hostile.json`)).rejects.toThrow(
      /inside the index's folder/,
    );
    await expect(
      fetchShardedSafetensors(`${baseUrl}/ckpt/model.safetensors.index.json`, {
        tensorNames: ['nope'],
      }),
    ).rejects.toThrow(InvalidArgumentError);
  });
});
