// The built CLI (dist/cli/plif.js) as a user runs it: a child process with pipes, or on a pseudo-terminal
// (util-linux `script`) with what a terminal would show rendered from its output.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const PLIF = join(ROOT, 'dist', 'cli', 'plif.js');

/** Builds dist/ when it is missing (tests that run the CLI need `npm run build` first). */
export function requireBuilt(): void {
  if (!existsSync(PLIF)) spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
  if (!existsSync(PLIF)) throw new Error(`${PLIF} is missing: run npm run build`);
}

/** Whether `script` can give a child a pseudo-terminal here. */
export const hasScript = spawnSync('script', ['-qec', 'true', '/dev/null'], { stdio: 'ignore' }).status === 0;

export interface Exit {
  code: number | null;
  out: string;
  err: string;
}

export interface Child {
  proc: ChildProcess;
  /** stdout (on a pseudo-terminal: everything the terminal received). */
  readonly out: string;
  readonly err: string;
  /** Resolves when stdout + stderr match `re`; rejects after `ms` or when the process exits first. */
  waitFor(re: RegExp, ms?: number): Promise<void>;
  exited: Promise<Exit>;
}

function child(proc: ChildProcess): Child {
  let out = '';
  let err = '';
  let done = false;
  const waiters: { re: RegExp; ok: () => void; bad: (e: Error) => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      if (w.re.test(out + err)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.ok();
      } else if (done) {
        waiters.splice(waiters.indexOf(w), 1);
        w.bad(new Error(`exited before ${w.re}: ${out}\n${err}`));
      }
    }
  };
  proc.stdout?.setEncoding('utf8').on('data', (d: string) => ((out += d), check()));
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => ((err += d), check()));
  const exited = new Promise<Exit>((resolve) =>
    proc.on('close', (code) => {
      done = true;
      check();
      resolve({ code, out, err });
    }),
  );
  return {
    proc,
    get out() {
      return out;
    },
    get err() {
      return err;
    },
    waitFor(re, ms = 60_000) {
      return new Promise<void>((ok, bad) => {
        const timer = setTimeout(() => bad(new Error(`timed out waiting for ${re}: ${out}\n${err}`)), ms);
        waiters.push({ re, ok: () => (clearTimeout(timer), ok()), bad: (e) => (clearTimeout(timer), bad(e)) });
        check();
      });
    },
    exited,
  };
}

/** `node dist/cli/plif.js ...args` with pipes (not a terminal), one CPU thread. */
export function plif(args: string[], env: Record<string, string> = {}): Child {
  return child(spawn(process.execPath, [PLIF, ...args], { cwd: ROOT, env: { ...process.env, PLIF_THREADS: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * `node dist/cli/plif.js ...args` on a pseudo-terminal of 160 columns (stdout and stderr both a TTY, as in
 * a terminal); writing "\x03" to `proc.stdin` is Ctrl-C typed at it.
 */
export function plifOnTerminal(args: string[], env: Record<string, string> = {}): Child {
  const cmd = `stty cols 160 rows 60; exec ${[process.execPath, PLIF, ...args].map(quote).join(' ')}`;
  return child(spawn('script', ['-qfec', cmd, '/dev/null'], { cwd: ROOT, env: { ...process.env, PLIF_THREADS: '1', ...env }, stdio: ['pipe', 'pipe', 'pipe'] }));
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
