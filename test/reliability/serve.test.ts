// plif serve as a real child process, asked over real sockets (issue 25, item 9): a request whose Host is
// not this server (a page of another site after DNS rebinding) gets 403, error bodies name no local path
// (the places searched go to the console), and a dataset file whose real path lies outside the data
// directory (a link to /etc/passwd named train-images) is not served, while links within it and a
// --data-dir that is itself a link are.
import { request } from 'node:http';
import { connect } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idxBytes } from '../data/writers.js';
import { ensureBuilt, plif, type Child } from './helpers.js';

let dir: string;
const servers: Child[] = [];

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'plif-serve-'));
}, 600_000);
afterAll(async () => {
  for (const s of servers) {
    s.proc.kill('SIGINT');
    await s.exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

/** plif serve on a free port of 127.0.0.1; resolves to its port once it says it is serving. */
async function serve(...args: string[]): Promise<{ port: number; server: Child }> {
  const server = plif(['serve', '--port', '0', ...args]);
  servers.push(server);
  await server.waitFor(/Ctrl-C stops\n/, 30_000);
  return { port: Number(new URL(server.out.split('\n')[0]!).port), server };
}

/** GET `path` from 127.0.0.1:port with this Host header. */
function get(port: number, path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { Host: host } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString('latin1')));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A raw HTTP/1.0 request without a Host header: the status line of the answer. */
function withoutHost(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write('GET / HTTP/1.0\r\n\r\n'));
    let text = '';
    s.on('data', (d: Buffer) => (text += d.toString()));
    s.on('end', () => resolve(text.split('\r\n')[0]!));
    s.on('error', reject);
  });
}

/** A Fashion-MNIST directory (gzip IDX files of 2 samples). */
function dataset(name: string): string {
  const d = join(dir, name);
  mkdirSync(d);
  for (const split of ['train', 't10k']) {
    writeFileSync(join(d, `${split}-images-idx3-ubyte.gz`), idxBytes([2, 28, 28], new Array(2 * 784).fill(7), true));
    writeFileSync(join(d, `${split}-labels-idx1-ubyte.gz`), idxBytes([2], [1, 2], true));
  }
  return d;
}

const IMAGES = '/data/fashion-mnist/train-images-idx3-ubyte.gz';

describe('the Host header (DNS rebinding)', () => {
  it('only this server by name or address and port is answered; other names, ports or none get 403', async () => {
    const { port } = await serve('--data-dir', dataset('host-data'));
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`, `127.0.0.2:${port}`]) {
      const r = await get(port, '/', host);
      expect(r.status, host).toBe(200);
      expect((await get(port, IMAGES, host)).status, host).toBe(200);
    }
    for (const host of [`evil.example:${port}`, 'evil.example', `localhost.evil.example:${port}`, `localhost:${port + 1}`, `127.0.0.1`, `192.168.1.20:${port}`, `user@localhost:${port}`]) {
      const page = await get(port, '/', host);
      expect(page.status, host).toBe(403);
      expect(page.body).toContain(`plif serve answers requests for localhost or its own address on port ${port}, not for Host`);
      const data = await get(port, IMAGES, host);
      expect(data.status, host).toBe(403);
      expect(data.body).not.toContain('\x1f\x8b'); // no gzip bytes of the dataset
    }
    expect(await withoutHost(port)).toMatch(/^HTTP\/1\.[01] 403 /);
  }, 60_000);

  it('bound to all interfaces (--host 0.0.0.0), an IP address of the machine is answered, a name still is not', async () => {
    const server = plif(['serve', '--port', '0', '--host', '0.0.0.0', '--data-dir', dataset('any-data')]);
    servers.push(server);
    await server.waitFor(/Ctrl-C stops\n/, 30_000);
    const port = Number(new URL(server.out.split('\n')[0]!).port);
    expect((await get(port, '/', `192.168.1.20:${port}`)).status).toBe(200);
    expect((await get(port, '/', `evil.example:${port}`)).status).toBe(403);
  }, 60_000);
});

describe('error bodies name no local path', () => {
  it('no dataset in --data-dir: the 404 says what to do; the places searched go to the console only', async () => {
    const empty = join(dir, 'empty-data');
    mkdirSync(empty);
    const { port, server } = await serve('--data-dir', empty);
    const r = await get(port, IMAGES, `127.0.0.1:${port}`);
    expect(r.status).toBe(404);
    expect(r.body).toMatch(/^plif serve is running, but --data-dir \(the directory it was given, named on its console\) holds no fashion-mnist IDX files: drop the four \.gz files onto the page/);
    expect(r.body).not.toContain(dir);
    expect(r.body).not.toMatch(/\/usr\/share|Places searched|\/tmp\//);
    await server.waitFor(new RegExp(`plif serve: dataset 'fashion-mnist' not found\\.\\nPlaces searched:\\n {2}- ${empty}`), 10_000);
    const missing = await get(port, '/no/such/file.js', `127.0.0.1:${port}`);
    expect(missing.status).toBe(404);
    expect(missing.body).toBe('not found: /no/such/file.js\n');
  }, 60_000);
});

describe('--data-dir and symbolic links', () => {
  it('a link out of the data directory (to /etc/passwd) is not served; links within it and a linked --data-dir are', async () => {
    const d = dataset('linked-data');
    // train-images: a link to a file outside the directory
    rmSync(join(d, 'train-images-idx3-ubyte.gz'));
    symlinkSync('/etc/passwd', join(d, 'train-images-idx3-ubyte.gz'));
    // t10k-images: a link to another file inside it
    const inside = join(d, 'sub');
    mkdirSync(inside);
    writeFileSync(join(inside, 'images.gz'), idxBytes([2, 28, 28], new Array(2 * 784).fill(9), true));
    rmSync(join(d, 't10k-images-idx3-ubyte.gz'));
    symlinkSync(join('sub', 'images.gz'), join(d, 't10k-images-idx3-ubyte.gz'));
    // the directory itself reached through a link
    const viaLink = join(dir, 'data-link');
    symlinkSync(d, viaLink);

    const { port, server } = await serve('--data-dir', viaLink);
    const host = `127.0.0.1:${port}`;
    const out = await get(port, IMAGES, host);
    expect(out.status).toBe(403);
    expect(out.body).toBe("not served: the data directory's train-images-idx3-ubyte.gz is a link to a file outside it (plif serve serves only files inside the data directory; its console says more)\n");
    expect(out.body).not.toContain('root:');
    await server.waitFor(/plif serve: \S+train-images-idx3-ubyte\.gz is not served: its real path \(\/etc\/passwd\) lies outside the data directory/, 10_000);
    const within = await get(port, '/data/fashion-mnist/t10k-images-idx3-ubyte.gz', host);
    expect(within.status).toBe(200);
    expect(Buffer.from(within.body, 'latin1').subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect((await get(port, '/data/fashion-mnist/train-labels-idx1-ubyte.gz', host)).status).toBe(200);
  }, 60_000);
});
