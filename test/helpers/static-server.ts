/**
 * A static HTTP server on loopback that serves a directory (and what is below it), as a GitHub
 * release, a Debian archive or any web server would, with faults on request: a file that stops after N bytes and then hangs, one
 * whose connection drops after N bytes, one that answers 404.
 */
import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';

export interface Fault {
  /** Send this many bytes, then nothing more (the connection stays open). */
  readonly hangAfter?: number;
  /** Send this many bytes, then close the connection (Content-Length promised more). */
  readonly dropAfter?: number;
  readonly status?: number;
}

export interface StaticServer {
  readonly url: string;
  readonly requests: string[];
  faults: Record<string, Fault>;
  close(): Promise<void>;
}

export async function serveDirectory(dir: string): Promise<StaticServer> {
  const sockets = new Set<Socket>();
  const requests: string[] = [];
  const state = { faults: {} as Record<string, Fault> };
  const server: Server = createServer((req, res: ServerResponse) => {
    // Files anywhere below `dir` (an apt archive has dists/ and pool/); requests are logged by
    // path, and faults are keyed by the file's name.
    const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/+/, '');
    const name = rel.split('/').pop() ?? '';
    requests.push(rel);
    const fault = state.faults[name] ?? {};
    const path = join(dir, rel);
    let size: number;
    try {
      if (!name || rel.split('/').some((seg) => seg === '..' || seg.startsWith('.'))) throw new Error('no');
      size = statSync(path).size;
    } catch {
      res.writeHead(404).end('not found');
      return;
    }
    if (fault.status) {
      res.writeHead(fault.status).end();
      return;
    }
    res.writeHead(200, { 'content-length': size, 'content-type': 'application/octet-stream' });
    const limit = fault.hangAfter ?? fault.dropAfter;
    if (limit === undefined) {
      createReadStream(path).pipe(res);
      return;
    }
    const stream = createReadStream(path, { start: 0, end: Math.max(0, limit - 1) });
    stream.on('data', (c) => res.write(c));
    stream.on('end', () => {
      if (fault.dropAfter !== undefined) res.socket?.destroy();
      // hangAfter: keep the response open; close() ends it.
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    get faults() {
      return state.faults;
    },
    set faults(f) {
      state.faults = f;
    },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
