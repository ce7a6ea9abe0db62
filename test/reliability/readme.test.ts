// The README states what test/reliability/ tests: the promises of its guarantees section, the exit codes of
// `plif --help`, and what plif serve answers (as its --help says).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../cli/dispatch.js';
import { ROOT } from './helpers.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8').replace(/\s+/g, ' ');

describe('the README states the guarantees', () => {
  it.each([
    ['files agree after any crash', '**The files of a run agree after any crash**'],
    ['refusals cost bounded memory', '**Refusals cost bounded memory**'],
    ['links and devices are written through', '**Links and devices are written through**'],
    ['a closed pipe never reports success', '**A closed pipe never reports success for unfinished work**'],
    ['messages are capped and name the file', 'a value it quotes is cut to 200 characters and its length'],
    ['one exit code per fault', 'Exit codes, the same fault giving the same code in every command'],
    ['serve checks the Host header', 'another `Host` gets 403'],
    ['serve follows links only within the data directory', 'Symbolic links in the data directory are followed only within it'],
  ])('%s', (_what, text) => {
    expect(readme).toContain(text);
  });

  it('the exit codes of plif --help are those of the README', () => {
    expect(EXIT_CODES).toMatch(/^exit status \(every command\):\n {2}0 {2}done\n {2}1 {2}a file could not be used/);
    expect(readme).toContain('0 done; 1 a file could not be used');
    expect(readme).toContain('2 the command line cannot be carried out as given');
  });
});
