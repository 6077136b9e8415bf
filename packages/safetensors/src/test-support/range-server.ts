import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the test server answered. */
export interface ServedRequest {
  readonly path: string;
  readonly range: string | undefined;
  readonly status: number;
  readonly bytesSent: number;
}

/** Options of {@link startRangeServer}. */
export interface RangeServerOptions {
  /** Honour `Range` headers (default true); false answers 200 with the whole file. */
  readonly ranges?: boolean;
  /** Send Content-Length on full responses (default true). */
  readonly contentLength?: boolean;
}

/** A local HTTP server on 127.0.0.1 serving in-memory files, with single-range support. */
export interface RangeServer {
  readonly baseUrl: string;
  readonly requests: ServedRequest[];
  close(): Promise<void>;
}

/** Starts the server; `files` maps URL paths (`/model.safetensors`) to contents. */
export async function startRangeServer(
  files: ReadonlyMap<string, Uint8Array>,
  options: RangeServerOptions = {},
): Promise<RangeServer> {
  const requests: ServedRequest[] = [];
  const server: Server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
    const file = files.get(path);
    const range = request.headers.range;
    const record = (status: number, bytesSent: number) =>
      requests.push({ path, range, status, bytesSent });
    if (file === undefined) {
      response.writeHead(404, { 'Content-Type': 'text/plain' });
      response.end('not found');
      record(404, 0);
      return;
    }
    const match = /^bytes=(\d+)-(\d+)$/.exec(range ?? '');
    if ((options.ranges ?? true) && match !== null) {
      const start = Number(match[1]);
      if (start >= file.length) {
        response.writeHead(416, { 'Content-Range': `bytes */${file.length}` });
        response.end();
        record(416, 0);
        return;
      }
      const end = Math.min(Number(match[2]), file.length - 1);
      const body = file.subarray(start, end + 1);
      response.writeHead(206, {
        'Content-Range': `bytes ${start}-${end}/${file.length}`,
        'Content-Length': String(body.length),
        'Accept-Ranges': 'bytes',
      });
      response.end(body);
      record(206, body.length);
      return;
    }
    const headers: Record<string, string> = {};
    if (options.contentLength ?? true) headers['Content-Length'] = String(file.length);
    response.writeHead(200, headers);
    // Two writes, so the client sees more than one chunk.
    const half = Math.floor(file.length / 2);
    response.write(file.subarray(0, half));
    response.end(file.subarray(half));
    record(200, file.length);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
