// The `plif` command: each sub-command lives in cli/commands/<name>.ts and exports `run(argv)`.
export const COMMANDS: Record<string, string> = {
  train: 'train a network on a dataset',
  eval: 'evaluate a checkpoint on a test set',
  bench: 'time training steps of a network',
  plot: 'draw figures of a run directory',
  frames: 'integrate the events of one sample into frames (.npy, PNG)',
  events: 'print decoded events of an event file',
  inspect: 'describe a network or a checkpoint',
  export: 'write a checkpoint as a NIR graph (neuromorphic hardware, other SNN frameworks)',
  import: 'read a NIR graph of this library\'s shape into a checkpoint',
  serve: 'serve the training page: train in a browser on its GPU',
};

type Command = { run(args: string[]): Promise<number> };

/** Each command's module, loaded only when it runs (static paths, so bundlers and vitest can follow them). */
const LOADERS: Record<string, () => Promise<Command>> = {
  train: () => import('./commands/train.js'),
  eval: () => import('./commands/eval.js'),
  plot: () => import('./commands/plot.js'),
  frames: () => import('./commands/frames.js'),
  events: () => import('./commands/events.js'),
  bench: () => import('./commands/bench.js'),
  inspect: () => import('./commands/inspect.js'),
  export: () => import('./commands/export.js'),
  import: () => import('./commands/import.js'),
  serve: () => import('./commands/serve.js'),
};

/** Commands whose work outlives their output: a closed pipe must not end them (a run would stop, unfinished, with exit 0). */
const KEEP_RUNNING_WITHOUT_OUTPUT = new Set(['train']);

/** From now on, writes to `stream` go nowhere (its reader has gone). */
function discardWrites(stream: NodeJS.WriteStream): void {
  stream.write = ((_chunk: unknown, encodingOrDone?: unknown, done?: unknown) => {
    const callback = typeof encodingOrDone === 'function' ? encodingOrDone : done;
    if (typeof callback === 'function') process.nextTick(callback as () => void);
    return true;
  }) as typeof stream.write;
}

/**
 * What a reader that goes away (EPIPE on stdout or stderr) does to `command`: `plif train` keeps training,
 * its output going nowhere, and exits as the run ends (so `plif train | head -1` still writes its
 * checkpoints, and a closed pipe never reports an unfinished run as done); every other command ends
 * quietly (exit 0), as a closed pipe ends other tools, instead of an EPIPE stack trace. Exit handlers
 * (the run lock) still run.
 */
export function handleClosedOutput(command: string | undefined): void {
  const keepRunning = command !== undefined && KEEP_RUNNING_WITHOUT_OUTPUT.has(command);
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      if (!keepRunning) process.exit(0);
      discardWrites(stream);
    });
  }
}

/** The exit status of every command: the same fault gives the same code whichever command meets it. */
export const EXIT_CODES = `exit status (every command):
  0  done
  1  a file could not be used: missing, unreadable, corrupt or refused (a checkpoint, a NIR graph, a
     dataset, a run directory and its lock), or one that cannot be converted; or a write failed
  2  the command line cannot be carried out as given: an unknown flag, a missing or bad value, sizes
     too large to run, an --out that already holds a run, a --port in use
`;

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([c, d]) => `  ${c.padEnd(width)}  ${d}`);
  return `usage: plif <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nplif <command> --help shows the options of a command; plif --version (-V) prints the version.\n\n${EXIT_CODES}`;
}

/** Runs one sub-command and returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    const { packageVersion } = await import('./version.js');
    process.stdout.write(`${await packageVersion()}\n`);
    return 0;
  }
  if (!Object.hasOwn(COMMANDS, name)) {
    process.stderr.write(`plif: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  const load = LOADERS[name];
  if (!load) {
    process.stderr.write(`plif: command '${name}' is not available in this version yet\n`);
    return 2;
  }
  const mod: { run?: (args: string[]) => Promise<number> } = await load();
  if (typeof mod.run !== 'function') throw new Error(`cli/commands/${name} exports no run()`);
  return mod.run(rest);
}
