#!/usr/bin/env node
import { capMessage } from '../core/quote.js';
import { handleClosedOutput, main } from './dispatch.js';

// A reader that goes away (`plif eval | head -1`): see handleClosedOutput (train keeps training).
handleClosedOutput(process.argv[2]);

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`plif: ${capMessage(err instanceof Error ? err.message : String(err))}\n`);
    process.exitCode = 1;
  },
);
