// The built CLI (dist/cli/plif.js) on a pseudo-terminal (util-linux `script`), with what a terminal would show
// rendered from its output (the CLI with pipes: test/reliability/helpers.ts plif).
import { spawn, spawnSync } from 'node:child_process';
import { PLIF, ROOT, watch, type Child } from './reliability/helpers.js';

/** Whether `script` can give a child a pseudo-terminal here. */
export const hasScript = spawnSync('script', ['-qec', 'true', '/dev/null'], { stdio: 'ignore' }).status === 0;

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * `node dist/cli/plif.js ...args` on a pseudo-terminal of 160 columns (stdout and stderr both a TTY, as in
 * a terminal); writing "\x03" to `proc.stdin` is Ctrl-C typed at it.
 */
export function plifOnTerminal(args: string[], env: Record<string, string> = {}): Child {
  const cmd = `stty cols 160 rows 60; exec ${[process.execPath, PLIF, ...args].map(quote).join(' ')}`;
  return watch(spawn('script', ['-qfec', cmd, '/dev/null'], { cwd: ROOT, env: { ...process.env, PLIF_THREADS: '1', ...env }, stdio: ['pipe', 'pipe', 'pipe'] }));
}

/**
 * What a terminal shows after receiving `raw`: lines of text, with carriage returns, cursor save/restore
 * (ESC 7 / ESC 8), cursor moves and line clearing applied (enough for cli-progress and readline's codes).
 */
export function renderTerminal(raw: string): string[] {
  const screen: string[][] = [[]];
  let row = 0;
  let col = 0;
  let saved = { row: 0, col: 0 };
  const line = () => (screen[row] ??= []);
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch === '\r') col = 0;
    else if (ch === '\n') {
      row++;
      while (screen.length <= row) screen.push([]);
    } else if (ch === '\x1b') {
      const next = raw[i + 1];
      if (next === '7') (saved = { row, col }), i++;
      else if (next === '8') ({ row, col } = saved), i++;
      else if (next === '[') {
        const m = /^\[([?0-9;]*)([A-Za-z])/.exec(raw.slice(i + 1));
        if (!m) continue;
        i += m[0].length;
        const n = m[1] === '' || m[1]!.startsWith('?') ? null : Number(m[1]!.split(';')[0]);
        switch (m[2]) {
          case 'G':
            col = (n ?? 1) - 1;
            break;
          case 'C':
            col += n ?? 1;
            break;
          case 'D':
            col = Math.max(0, col - (n ?? 1));
            break;
          case 'A':
            row = Math.max(0, row - (n ?? 1));
            break;
          case 'B':
            row += n ?? 1;
            while (screen.length <= row) screen.push([]);
            break;
          case 'K': {
            const l = line();
            if ((n ?? 0) === 0) l.length = Math.min(l.length, col);
            else if (n === 1) for (let c = 0; c <= col && c < l.length; c++) l[c] = ' ';
            else l.length = 0;
            break;
          }
          case 'J':
            screen.length = row + 1;
            line().length = Math.min(line().length, col);
            break;
          default: // modes (?25l, ?7h), colours: no text
        }
      }
    } else if (ch >= ' ' || ch === '\t') {
      const l = line();
      while (l.length < col) l.push(' ');
      l[col++] = ch;
    }
  }
  return screen.map((l) => l.join('').trimEnd());
}
