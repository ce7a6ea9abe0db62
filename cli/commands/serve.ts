// plif serve: serves the browser page (built into dist/web by npm run build) and the local dataset files on
// this machine, so that a browser trains on its own GPU. Prints the page's URL as the first line on stdout
// and runs until Ctrl-C. Nothing is downloaded from elsewhere: the data come from --data-dir, $PLIF_DATA or
// the well-known places (Debian's dataset-fashion-mnist).
import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DatasetNotFoundError, idxFiles, locateDataset } from '../../data/index.js';
import { intFlag, parseFlags, UsageError, withUsage } from '../args.js';

const HELP = `usage: plif serve [options]

  --port P          port to listen on (8080; 0 picks a free one)
  --host H          address to listen on (127.0.0.1; only this machine can connect)
  --data-dir DIR    where the dataset's IDX files are (default: $PLIF_DATA/<dataset>, then well-known places
                    such as /usr/share/datasets/fashion-mnist)

Serves the training page and the Fashion-MNIST (and MNIST) files; open the printed URL in a browser: it
trains with gpu.js on the browser's WebGL2 (the machine's GPU), or on the library's CPU backend.
Ctrl-C stops it.
`;

/** Datasets the page reads, and the IDX files it may ask for. */
const DATASETS = ['fashion-mnist', 'mnist'] as const;
const SPLIT_OF = new Map<string, 'train' | 'test'>(
  (['train', 'test'] as const).flatMap((split) => Object.values(idxFiles(split)).flatMap((gz) => [[gz, split], [gz.slice(0, -3), split]] as [string, 'train' | 'test'][])),
);

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** Cross-origin isolation (SharedArrayBuffer for the CPU backend's WebAssembly memory), no caching of stale builds. */
const HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-cache',
};

/** dist/web of this package (next to dist/cli when built; dist/web under the package root from the sources). */
export function pageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'web', 'index.html')) && dir.endsWith(`${sep}dist`)) return join(dir, 'web');
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'dist', 'web');
    dir = dirname(dir);
  }
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');
}

function fail(res: ServerResponse, code: number, text: string): void {
  res.writeHead(code, { ...HEADERS, 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(text + '\n');
}

async function sendFile(req: IncomingMessage, res: ServerResponse, path: string, type: string): Promise<void> {
  const st = await stat(path).catch(() => null);
  if (!st?.isFile()) return fail(res, 404, `not found: ${req.url}`);
  res.writeHead(200, { ...HEADERS, 'Content-Type': type, 'Content-Length': String(st.size) });
  if (req.method === 'HEAD') return void res.end();
  createReadStream(path)
    .on('error', () => res.destroy())
    .pipe(res);
}

/**
 * What the server says when it has no files of a dataset: it is running (the user need not start it), and
 * what gives it the files, or that the page takes them dropped onto it.
 */
export function noDataHere(dataset: string, dataDir: string | undefined): string {
  const where = dataDir !== undefined ? `--data-dir ${dataDir} holds no ${dataset} IDX files` : `no ${dataset} IDX files were found ($PLIF_DATA/${dataset} or the well-known places)`;
  return `plif serve is running, but ${where}: drop the four .gz files onto the page, or stop plif serve (Ctrl-C) and run it again with --data-dir DIR, DIR holding them`;
}

/** The request handler: the page's files, and data/<dataset>/<IDX file> from the located dataset. */
export function handler(root: string, dataDir: string | undefined) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return fail(res, 405, `${req.method} is not served`);
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      return fail(res, 400, `bad path: ${req.url}`);
    }
    const data = /^\/data\/([^/]+)\/([^/]+)$/.exec(path);
    if (data) {
      const [, dataset, file] = data as unknown as [string, string, string];
      const split = SPLIT_OF.get(file);
      if (!(DATASETS as readonly string[]).includes(dataset) || !split) return fail(res, 404, `not a dataset file of the page: ${path}`);
      let dir: string;
      try {
        dir = locateDataset(dataset as (typeof DATASETS)[number], split, dataDir !== undefined ? { dataDir } : {});
      } catch (e) {
        if (e instanceof DatasetNotFoundError) return fail(res, 404, `${noDataHere(dataset, dataDir)}\n\n${e.message}`);
        throw e;
      }
      // the page asks for the .gz name; the uncompressed file serves as well (the page checks the gzip magic)
      const gz = file.endsWith('.gz') ? file : `${file}.gz`;
      const candidates = [join(dir, gz), join(dir, gz.slice(0, -3))];
      const found = candidates.find((c) => existsSync(c));
      if (!found) return fail(res, 404, `${noDataHere(dataset, dataDir)} (neither ${candidates.join(' nor ')} exists)`);
      return sendFile(req, res, found, 'application/octet-stream');
    }
    const rel = path.endsWith('/') ? `${path}index.html` : path;
    const full = resolve(root, `.${rel}`);
    if (full !== root && !full.startsWith(root + sep)) return fail(res, 403, `outside the page: ${path}`);
    return sendFile(req, res, full, TYPES[extname(full)] ?? 'application/octet-stream');
  };
}

export async function run(argv: string[]): Promise<number> {
  return withUsage('serve', HELP, argv, async () => {
    const { values: f } = parseFlags(argv, { port: { type: 'string' }, host: { type: 'string' }, 'data-dir': { type: 'string' } });
    const port = f.port === undefined ? 8080 : intFlag('port', f.port, 0)!;
    if (port > 65535) throw new UsageError(`--port must be at most 65535, got ${port}`);
    const host = f.host ?? '127.0.0.1';
    const dataDir = f['data-dir'];
    if (dataDir !== undefined && !(await stat(dataDir).catch(() => null))?.isDirectory()) throw new UsageError(`--data-dir ${dataDir}: not a directory`);
    const root = pageRoot();
    if (!existsSync(join(root, 'index.html'))) throw new UsageError(`the page is not built (${join(root, 'index.html')} is missing): run npm run build`);
    const serve = handler(root, dataDir);
    const server = createServer((req, res) => {
      serve(req, res).catch((e: Error) => {
        if (!res.headersSent) fail(res, 500, e.message);
        else res.destroy();
      });
    });
    await new Promise<void>((ok, bad) => {
      server.once('error', (e: NodeJS.ErrnoException) => bad(e.code === 'EADDRINUSE' ? new UsageError(`--port ${port}: the port is in use (choose another, or 0 for a free one)`) : e));
      server.listen(port, host, () => ok());
    });
    const addr = server.address();
    const bound = typeof addr === 'object' && addr ? addr.port : port;
    const shown = host.includes(':') ? `[${host}]` : host;
    process.stdout.write(`http://${shown}:${bound}/\n`);
    const found = DATASETS.map((d) => {
      try {
        return `${d} from ${locateDataset(d, 'train', dataDir !== undefined ? { dataDir } : {})}`;
      } catch {
        return null;
      }
    }).filter((s): s is string => s !== null);
    const none = dataDir !== undefined ? `no dataset in --data-dir ${dataDir}` : 'no dataset found on this machine';
    process.stdout.write(
      `serving the page from ${root}; ${found.length ? `data: ${found.join(', ')}` : `${none}: the page will ask for the four .gz files to be dropped onto it (or stop this and run plif serve --data-dir DIR, DIR holding them)`}; Ctrl-C stops\n`,
    );
    const signal = await new Promise<NodeJS.Signals>((done) => {
      process.once('SIGINT', () => done('SIGINT'));
      process.once('SIGTERM', () => done('SIGTERM'));
    });
    server.closeAllConnections();
    await new Promise<void>((done) => server.close(() => done()));
    process.stderr.write(`plif serve: stopped (${signal})\n`);
    return 0;
  });
}
