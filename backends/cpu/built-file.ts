// Where a file that `npm run build` writes into dist/ is found at run time (Node only): beside the running
// module when that module is itself in dist/, else under dist/ of the package (running from the sources).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * `name` beside `here` when it exists there; else `dist/<distPath>` under the nearest folder at or above
 * `here` that holds a package.json; else the path beside `here` (for the caller's "not found" message).
 */
export function builtFilePath(here: string, name: string, distPath: string): string {
  const beside = join(here, name);
  if (existsSync(beside)) return beside;
  for (let dir = here; ; ) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'dist', distPath);
    const up = dirname(dir);
    if (up === dir) return beside;
    dir = up;
  }
}
