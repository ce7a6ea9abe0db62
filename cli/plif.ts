#!/usr/bin/env node
import { main } from './dispatch.js';

// A reader that goes away (`plif eval | head -1`) ends the command quietly, as a closed pipe does for
// other tools, instead of an EPIPE stack trace; exit handlers (the run lock) still run.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`plif: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
