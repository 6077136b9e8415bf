import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError, SafetensorsFormatError } from '@patchlens/errors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  readSafetensorsFile,
  readSafetensorsFileHeader,
  readShardedSafetensors,
  writeSafetensorsFile,
} from './node.js';
import { readSafetensors } from './safetensors-reader.js';
import { writeSafetensors } from './safetensors-writer.js';
import { buildRawSafetensors, float32Bytes } from './test-support/raw-safetensors.js';

let folder: string;
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'patchlens-safetensors-'));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

const tensors = {
  'wte.weight': { shape: [3, 2], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
  'wpe.weight': { shape: [2, 2], data: new Float32Array([-1, -2, -3, -4]), dtype: 'F16' as const },
  tokens: { shape: [4], data: new Int32Array([50256, 11, 13, 0]), dtype: 'I64' as const },
};

describe('writeSafetensorsFile / readSafetensorsFile', () => {
  it('round-trips through a file, byte-identical to writeSafetensors', async () => {
    const path = join(folder, 'model.safetensors');
    await writeSafetensorsFile(path, tensors, { metadata: { format: 'pt' } });
    const onDisk = new Uint8Array(await readFile(path));
    expect(onDisk).toEqual(writeSafetensors(tensors, { metadata: { format: 'pt' } }));
    const file = await readSafetensorsFile(path);
    expect({ ...file.metadata }).toEqual({ format: 'pt' });
    expect([...file.tensors.get('wte.weight')!.data]).toEqual([1, 2, 3, 4, 5, 6]);
    expect([...file.tensors.get('wpe.weight')!.data]).toEqual([-1, -2, -3, -4]);
    expect([...file.tensors.get('tokens')!.data]).toEqual([50256, 11, 13, 0]);
    expect(file).toEqual(readSafetensors(onDisk));
  });

  it('reads only the named tensors', async () => {
    const path = join(folder, 'model.safetensors');
    const file = await readSafetensorsFile(path, { tensorNames: ['tokens'] });
    expect([...file.tensors.keys()]).toEqual(['tokens']);
    await expect(readSafetensorsFile(path, { tensorNames: ['nope'] })).rejects.toThrow(
      InvalidArgumentError,
    );
  });

  it('reads the header only', async () => {
    const header = await readSafetensorsFileHeader(join(folder, 'model.safetensors'));
    expect(header.tensors.get('tokens')).toEqual({
      dtype: 'I64',
      shape: [4],
      dataOffsets: [0, 32],
    });
  });

  it('reads one small tensor from a 6 GB (sparse) file without loading the rest', async () => {
    const big = 6_000_000_000; // more than any one Node buffer or readFile can hold
    const head = buildRawSafetensors({
      big: { dtype: 'U8', shape: [big], data_offsets: [0, big] },
      small: { dtype: 'F32', shape: [2], data_offsets: [big, big + 8] },
    });
    const path = join(folder, 'sparse.safetensors');
    const handle = await open(path, 'w');
    try {
      await handle.write(head, 0, head.length, 0);
      await handle.write(float32Bytes([0.5, -7]), 0, 8, head.length + big);
    } finally {
      await handle.close();
    }
    const file = await readSafetensorsFile(path, { tensorNames: ['small'] });
    expect([...file.tensors.get('small')!.data]).toEqual([0.5, -7]);
    expect((await readSafetensorsFileHeader(path)).tensors.get('big')?.shape).toEqual([big]);
    await rm(path);
  });

  it('throws SafetensorsFormatError for a truncated file, naming the last tensor', async () => {
    const path = join(folder, 'truncated.safetensors');
    const bytes = writeSafetensors(tensors);
    await writeFile(path, bytes.subarray(0, bytes.length - 3));
    const error = await readSafetensorsFile(path).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SafetensorsFormatError);
    expect((error as SafetensorsFormatError).tensorName).toBe('wpe.weight');
    expect((error as Error).message).toContain(path);
  });

  it('throws InvalidArgumentError for a missing file or a folder', async () => {
    await expect(readSafetensorsFile(join(folder, 'absent.safetensors'))).rejects.toThrow(
      InvalidArgumentError,
    );
    await expect(readSafetensorsFile(folder)).rejects.toThrow(/not a regular file/);
  });

  it('removes the partial file when a tensor cannot be encoded', async () => {
    const path = join(folder, 'partial.safetensors');
    const bad = { ...tensors, huge: { shape: [1], data: [1e6], dtype: 'F16' as const } };
    await expect(writeSafetensorsFile(path, bad)).rejects.toThrow(
      /outside the finite range of F16/,
    );
    expect(existsSync(path)).toBe(false);
  });
});

describe('readShardedSafetensors', () => {
  let shardFolder: string;
  beforeAll(async () => {
    shardFolder = join(folder, 'sharded');
    await mkdir(join(shardFolder, 'part'), { recursive: true });
    await writeSafetensorsFile(join(shardFolder, 'model-00001-of-00002.safetensors'), {
      a: { shape: [2], data: new Float32Array([1, 2]) },
      b: { shape: [1], data: new Int32Array([3]) },
    });
    await writeSafetensorsFile(
      join(shardFolder, 'part', 'model-00002-of-00002.safetensors'),
      {
        c: { shape: [2], data: new Float32Array([4, 5]) },
      },
      { metadata: { format: 'pt' } },
    );
    const index = {
      metadata: { total_size: 20 },
      weight_map: {
        a: 'model-00001-of-00002.safetensors',
        b: 'model-00001-of-00002.safetensors',
        c: 'part/model-00002-of-00002.safetensors',
      },
    };
    await writeFile(join(shardFolder, 'model.safetensors.index.json'), JSON.stringify(index));
  });

  it('reads every mapped tensor from a folder', async () => {
    const result = await readShardedSafetensors(shardFolder);
    expect([...result.tensors.keys()].sort()).toEqual(['a', 'b', 'c']);
    expect([...result.tensors.get('c')!.data]).toEqual([4, 5]);
    expect(result.metadata).toEqual({ total_size: 20 });
    expect({ ...result.shardMetadata.get('part/model-00002-of-00002.safetensors') }).toEqual({
      format: 'pt',
    });
  });

  it('reads from the index path too, opening only the shards it needs', async () => {
    const corrupt = join(folder, 'sharded-corrupt');
    await mkdir(corrupt);
    await writeFile(
      join(corrupt, 'one.safetensors'),
      writeSafetensors({ a: { shape: [1], data: [7] } }),
    );
    await writeFile(join(corrupt, 'two.safetensors'), 'not a safetensors file');
    await writeFile(
      join(corrupt, 'index.json'),
      JSON.stringify({ weight_map: { a: 'one.safetensors', z: 'two.safetensors' } }),
    );
    const result = await readShardedSafetensors(join(corrupt, 'index.json'), {
      tensorNames: ['a'],
    });
    expect([...result.tensors.get('a')!.data]).toEqual([7]);
    await expect(readShardedSafetensors(join(corrupt, 'index.json'))).rejects.toThrow(
      SafetensorsFormatError,
    );
    await expect(
      readShardedSafetensors(corrupt, { indexFileName: 'index.json', tensorNames: ['q'] }),
    ).rejects.toThrow(InvalidArgumentError);
  });

  it('rejects a tensor missing from its shard, naming both', async () => {
    const broken = join(folder, 'sharded-missing');
    await mkdir(broken);
    await writeFile(
      join(broken, 'one.safetensors'),
      writeSafetensors({ a: { shape: [1], data: [7] } }),
    );
    await writeFile(
      join(broken, 'model.safetensors.index.json'),
      JSON.stringify({ weight_map: { a: 'one.safetensors', b: 'one.safetensors' } }),
    );
    const error = await readShardedSafetensors(broken).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SafetensorsFormatError);
    expect((error as SafetensorsFormatError).tensorName).toBe('b');
    expect((error as Error).message).toMatch(
      /maps "b" to "one.safetensors", but that shard has no such tensor/,
    );
  });

  it.each([
    '../model.safetensors',
    '/etc/passwd',
    'a\\b.safetensors',
    'C:x.safetensors',
    './x',
    'a//b',
  ])('rejects the shard path %j', async (shard) => {
    const hostile = join(folder, `sharded-hostile-${Math.random().toString(36).slice(2)}`);
    await mkdir(hostile);
    await writeFile(
      join(hostile, 'model.safetensors.index.json'),
      JSON.stringify({ weight_map: { a: shard } }),
    );
    const error = await readShardedSafetensors(hostile).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SafetensorsFormatError);
    expect((error as SafetensorsFormatError).tensorName).toBe('a');
  });

  it('rejects an index that is not an index', async () => {
    const odd = join(folder, 'sharded-odd');
    await mkdir(odd);
    for (const text of ['[]', '{"weight_map": []}', '{"weight_map": {"a": 3}}', 'nope']) {
      await writeFile(join(odd, 'model.safetensors.index.json'), text);
      await expect(readShardedSafetensors(odd)).rejects.toThrow(SafetensorsFormatError);
    }
  });
});

// An independent reader in Python's standard library (struct + json), applying the checks of
// safetensors' own loader; runs only where python3 is installed.
const python = ['/usr/bin/python3', 'python3'].find((candidate) => {
  try {
    execFileSync(candidate, ['-c', 'pass'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
});
const pythonReader = `
import json, struct, sys
data = open(sys.argv[1], 'rb').read()
(n,) = struct.unpack('<Q', data[:8])
assert n % 8 == 0 and n <= 100_000_000 and 8 + n <= len(data)
header = json.loads(data[8:8 + n].decode('utf-8'))
metadata = header.pop('__metadata__', None)
sizes = {'F32': 4, 'I32': 4, 'I64': 8, 'F16': 2, 'BF16': 2}
formats = {'F32': 'f', 'I32': 'i', 'I64': 'q', 'F16': 'e'}
body = data[8 + n:]
end = 0
out = {}
for name, info in sorted(header.items(), key=lambda item: item[1]['data_offsets']):
    begin, stop = info['data_offsets']
    assert begin == end, name
    count = 1
    for size in info['shape']:
        count *= size
    assert stop - begin == count * sizes[info['dtype']], name
    assert begin % sizes[info['dtype']] == 0, name
    end = stop
    if info['dtype'] in formats:
        out[name] = list(struct.unpack('<%d%s' % (count, formats[info['dtype']]), body[begin:stop]))
assert end == len(body)
print(json.dumps({'metadata': metadata, 'tensors': out}))
`;

describe.skipIf(python === undefined)('a Python standard-library reader accepts the output', () => {
  it('reads the values back', async () => {
    const path = join(folder, 'for-python.safetensors');
    await writeSafetensorsFile(
      path,
      {
        ...tensors,
        odd: { shape: [3], data: new Float32Array([0.25, -0.5, 1e-3]), dtype: 'F16' },
        bf: { shape: [1], data: [1.5], dtype: 'BF16' },
        ints: { shape: [1, 3], data: new Int32Array([7, -8, 2147483647]) },
      },
      { metadata: { format: 'np', 'key with "quotes"': 'välue' } },
    );
    const output = JSON.parse(
      execFileSync(python!, ['-c', pythonReader, path], { encoding: 'utf8' }),
    );
    expect(output.metadata).toEqual({ format: 'np', 'key with "quotes"': 'välue' });
    expect(output.tensors['wte.weight']).toEqual([1, 2, 3, 4, 5, 6]);
    expect(output.tensors['wpe.weight']).toEqual([-1, -2, -3, -4]);
    expect(output.tensors['tokens']).toEqual([50256, 11, 13, 0]);
    expect(output.tensors['ints']).toEqual([7, -8, 2147483647]);
    // F16 0.001 is 0x1419 = (1 + 25/1024) * 2^-10.
    expect(output.tensors['odd']).toEqual([0.25, -0.5, (1 + 25 / 1024) * 2 ** -10]);
  });
});
