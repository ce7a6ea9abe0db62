// plif serve: serves the browser page (built into dist/web by npm run build) and the local dataset files on
// this machine, so that a browser trains on its own GPU. Prints the page's URL as the first line on stdout
// and runs until Ctrl-C. Nothing is downloaded from elsewhere: the data come from --data-dir, $PLIF_DATA or
// the well-known places (Debian's dataset-fashion-mnist).
import { createReadStream, existsSync } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DatasetNotFoundError, idxFiles, locateDataset } from '../../data/index.js';
import { capMessage, quote } from '../../core/quote.js';
import { intFlag, parseFlags, UsageError, withUsage } from '../args.js';

const HELP = `usage: plif serve [options]

  --port P          port to listen on (8080; 0 picks a free one)
  --host H          address to listen on (127.0.0.1; only this machine can connect)
  --data-dir DIR    where the dataset's IDX files are (default: $PLIF_DATA/<dataset>, then well-known places
                    such as /usr/share/datasets/fashion-mnist)

Serves the training page and the Fashion-MNIST (and MNIST) files; open the printed URL in a browser: it
trains with gpu.js on the browser's WebGL2 (the machine's GPU), or on the library's CPU backend.
Ctrl-C stops it.

What it answers: GET and HEAD of the page's files and of data/<dataset>/<IDX file>, for requests whose
Host is this server (localhost, a loopback address, the --host given, or any IP address when --host is
0.0.0.0 or ::) on its port; another Host gets 403, so a web page whose name is made to resolve to this
machine (DNS rebinding) cannot read the page or the data. A dataset file is served only when its real
path lies inside the data directory: symbolic links within it are followed, a link to a file outside it
gets 403 (a --data-dir that is itself a link is followed first: give the directory the links point into).
Error pages name no local path; the server's console does.
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
  if (!st?.isFile()) return fail(res, 404, `not found: ${new URL(req.url ?? '/', 'http://localhost').pathname}`);
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
  // no local path: the page (and whatever else reads this answer) learns nothing of the machine's files
  const where = dataDir !== undefined ? `--data-dir (the directory it was given, named on its console) holds no ${dataset} IDX files` : `no ${dataset} IDX files were found ($PLIF_DATA/${dataset} or the well-known places)`;
  return `plif serve is running, but ${where}: drop the four .gz files onto the page, or stop plif serve (Ctrl-C) and run it again with --data-dir DIR, DIR holding them`;
}

/** Names a host answers to whatever it is bound to. */
const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1']);

/**
 * Whether a request's Host header names this server: localhost or a loopback address, the address or name
 * it was bound to (--host), or any IP address when bound to all interfaces; and its port. A name other
 * than these is what a page of another site sends after DNS rebinding (its name made to resolve here).
 */
export function hostAllowed(hostHeader: string | undefined, bound: { host: string; port: number }): boolean {
  if (hostHeader === undefined) return false;
  if (/[/\\@?#\s]/.test(hostHeader)) return false;
  let url: URL;
  try {
    url = new URL(`http://${hostHeader}/`);
  } catch {
    return false;
  }
  const port = url.port === '' ? 80 : Number(url.port);
  if (port !== bound.port) return false;
  const name = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (LOOPBACK_NAMES.has(name) || (isIP(name) === 4 && name.startsWith('127.'))) return true;
  if (name === bound.host.toLowerCase().replace(/^\[(.*)\]$/, '$1')) return true;
  const wildcard = bound.host === '0.0.0.0' || bound.host === '::';
  return wildcard && isIP(name) !== 0;
}

/** Whether `file`'s real path lies inside `dir`'s real path (a link within the directory stays inside). */
async function realInside(dir: string, file: string): Promise<boolean> {
  const [d, f] = await Promise.all([realpath(dir), realpath(file)]);
  const rel = relative(d, f);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && resolve(d, rel) === f;
}

/** Writes a line to the server's console once per distinct text (details the HTTP answers leave out). */
function consoleOnce(): (text: string) => void {
  const said = new Set<string>();
  return (text) => {
    if (said.has(text)) return;
    said.add(text);
    process.stderr.write(`plif serve: ${text}\n`);
  };
}

/** The request handler: the page's files, and data/<dataset>/<IDX file> from the located dataset. */
export function handler(root: string, dataDir: string | undefined, log: (text: string) => void = consoleOnce()) {
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
        if (e instanceof DatasetNotFoundError) {
          log(e.message); // the places searched: on the console, not in the answer
          return fail(res, 404, noDataHere(dataset, dataDir));
        }
        throw e;
      }
      // the page asks for the .gz name; the uncompressed file serves as well (the page checks the gzip magic)
      const gz = file.endsWith('.gz') ? file : `${file}.gz`;
      const candidates = [join(dir, gz), join(dir, gz.slice(0, -3))];
      const found = candidates.find((c) => existsSync(c));
      if (!found) {
        log(`neither ${candidates.join(' nor ')} exists`);
        return fail(res, 404, noDataHere(dataset, dataDir));
      }
      if (!(await realInside(dir, found).catch(() => false))) {
        log(`${found} is not served: its real path (${await realpath(found).catch(() => 'unreadable')}) lies outside the data directory ${dir}; give the directory it is in as --data-dir`);
        return fail(res, 403, `not served: the data directory's ${file} is a link to a file outside it (plif serve serves only files inside the data directory; its console says more)`);
      }
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
    const bound = { host, port };
    const server = createServer((req, res) => {
      if (!hostAllowed(req.headers.host, bound)) {
        return fail(res, 403, `plif serve answers requests for localhost or its own address on port ${bound.port}, not for Host ${JSON.stringify(quote(req.headers.host ?? '', 100))} (a page of another site reaching this server, e.g. by DNS rebinding)`);
      }
      serve(req, res).catch((e: Error) => {
        process.stderr.write(`plif serve: ${req.method} ${quote(req.url ?? '', 200)}: ${capMessage(e.message)}\n`);
        if (!res.headersSent) fail(res, 500, 'plif serve failed to answer this request (its console says why)');
        else res.destroy();
      });
    });
    await new Promise<void>((ok, bad) => {
      server.once('error', (e: NodeJS.ErrnoException) => bad(e.code === 'EADDRINUSE' ? new UsageError(`--port ${port}: the port is in use (choose another, or 0 for a free one)`) : e));
      server.listen(port, host, () => ok());
    });
    const addr = server.address();
    bound.port = typeof addr === 'object' && addr ? addr.port : port; // --port 0: the one picked
    const shown = host.includes(':') ? `[${host}]` : host;
    process.stdout.write(`http://${shown}:${bound.port}/\n`);
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
