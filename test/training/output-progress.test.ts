// What a run prints (training/progress.ts): durations, ordinals, epoch names, the silent-output warning, the
// epoch summary, and the console reporter's lines on a terminal (a progress bar), off one (log lines) and
// with --json (JSON objects alone on stdout). Streams are in-memory fakes; time is performance.now() mocked.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { EpochMetrics } from '../../training/engine.js';
import { consoleReporter, type ConsoleReporter, epochName, epochSummary, formatDuration, ordinal, silentWarning, SILENT_TIED_SHARE, type ReporterOptions } from '../../training/progress.js';

/** A stream that keeps what is written; `isTTY` decides whether the reporter draws a bar on it. */
function fakeStream(isTTY = false) {
  const chunks: string[] = [];
  const stream = { isTTY, columns: 300, write: (s: string) => (chunks.push(s), true) };
  return { stream: stream as unknown as NodeJS.WriteStream, chunks, text: () => chunks.join('') };
}

/** The text without terminal control sequences (cursor moves, clears, cursor show/hide). */
const plain = (s: string) => s.replace(/\x1B(\[[?0-9;]*[A-Za-z]|[78])/g, '').replace(/\r/g, '');

const metrics = (o: Partial<EpochMetrics> = {}): EpochMetrics => ({
  epoch: 2,
  lr: 0.00123,
  train_loss: 0.123456,
  train_acc: 0.456789,
  test_acc: 0.41234,
  tau: [
    { layer: 2, tau: 2 },
    { layer: 6, tau: 1.23456 },
  ],
  firing_rate: [
    { layer: 3, rate: 0.12345 },
    { layer: 7, rate: 0.25 },
  ],
  seconds: 65.2,
  samples_per_s: 123.456,
  ...o,
});

const SILENT_ADVICE = 'The network is silent: train longer (more --epochs or more samples), or try another --lr or a lower --vth.';

type StartInfo = Parameters<NonNullable<ConsoleReporter['start']>>[0];
/** What start() gets, with only the fields its line reads filled in. */
const startInfo = (o: { epochs?: number; backend?: Record<string, unknown>; dataDir?: string; resumedFrom?: { epoch: number; batch: number } | null } = {}): StartInfo => ({
  config: { preset: 'fmnist-small', dataset: 'fashion-mnist', batch: 16, backend: 'cpu', epochs: o.epochs ?? 3 },
  network: { T: 8 },
  backend: o.backend ?? {},
  trainSamples: 100,
  valSamples: 10,
  testSamples: 20,
  resumedFrom: o.resumedFrom ?? null,
  ...(o.dataDir !== undefined ? { dataDir: o.dataDir } : {}),
}) as unknown as StartInfo;

afterEach(() => {
  vi.restoreAllMocks();
});

describe('formatDuration', () => {
  it('writes seconds, minutes and seconds, or hours and minutes, rounded to the second', () => {
    expect(formatDuration(Number.NaN)).toBe('?');
    expect(formatDuration(Number.POSITIVE_INFINITY)).toBe('?');
    expect(formatDuration(Number.NEGATIVE_INFINITY)).toBe('?');
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(5)).toBe('5s');
    expect(formatDuration(59.49)).toBe('59s');
    expect(formatDuration(59.5)).toBe('1m00s');
    expect(formatDuration(61)).toBe('1m01s');
    expect(formatDuration(605)).toBe('10m05s');
    expect(formatDuration(3599)).toBe('59m59s');
    expect(formatDuration(3600)).toBe('1h00m');
    expect(formatDuration(3659)).toBe('1h00m');
    expect(formatDuration(3660 + 5 * 60)).toBe('1h06m');
    expect(formatDuration(10 * 3600 + 42 * 60 + 10)).toBe('10h42m');
  });
});

describe('ordinal and epochName', () => {
  it('suffixes st, nd, rd and th, with th for 11 to 13 of every hundred', () => {
    const cases: [number, string][] = [
      [0, '0th'], [1, '1st'], [2, '2nd'], [3, '3rd'], [4, '4th'], [9, '9th'], [10, '10th'],
      [11, '11th'], [12, '12th'], [13, '13th'], [14, '14th'], [21, '21st'], [22, '22nd'], [23, '23rd'],
      [101, '101st'], [102, '102nd'], [110, '110th'], [111, '111th'], [112, '112th'], [113, '113th'], [1003, '1003rd'],
    ];
    for (const [n, s] of cases) expect(ordinal(n)).toBe(s);
  });

  it('names an epoch by its number, and with the run length its place in the run', () => {
    expect(epochName(1, 2)).toBe('epoch 1 (the 2nd of 2)');
    expect(epochName(0, 3)).toBe('epoch 0 (the 1st of 3)');
    expect(epochName(10, 20)).toBe('epoch 10 (the 11th of 20)');
    expect(epochName(3)).toBe('epoch 3');
    expect(epochName(3, 0)).toBe('epoch 3');
  });
});

describe('silentWarning', () => {
  it('is null when the output layer fired and few samples are tied', () => {
    expect(SILENT_TIED_SHARE).toBe(0.9);
    expect(silentWarning(metrics(), 20)).toBeNull();
    expect(silentWarning(metrics({ test_ties: 8 }), 10)).toBeNull(); // 8 < 0.9 * 10
    expect(silentWarning(metrics({ firing_rate: [] }), 10)).toBeNull(); // no rate at all
    // no test samples: nothing is called tied, not even 0 ties of 0
    expect(silentWarning(metrics({ test_ties: 0 }), 0)).toBeNull();
    expect(silentWarning(metrics({ test_ties: 5 }), undefined)).toBeNull();
    // an earlier layer silent, the output layer firing
    expect(silentWarning(metrics({ firing_rate: [{ layer: 1, rate: 0 }, { layer: 4, rate: 0.5 }] }), 10)).toBeNull();
  });

  it('names the silent output layer and the tied share', () => {
    const m = metrics({ firing_rate: [{ layer: 1, rate: 0.2 }, { layer: 4, rate: 0 }], test_ties: 20, test_acc: 0.1 });
    expect(silentWarning(m, 20)).toBe(
      'the output layer (layer 4) did not fire on the test pass (firing rate 0), so 20 of 20 test samples are tied: ' +
        'their predictions come from the tie rule, and the test accuracy of epoch 2, 10.00%, is chance level, not learning. ' +
        SILENT_ADVICE,
    );
  });

  it('says "the test samples are tied" when the count or the number of samples is unknown', () => {
    const silent = { firing_rate: [{ layer: 4, rate: 0 }], test_acc: 0.1 };
    const expected = 'the output layer (layer 4) did not fire on the test pass (firing rate 0), so the test samples are tied: ' +
      'their predictions come from the tie rule, and the test accuracy of epoch 2, 10.00%, is chance level, not learning. ' + SILENT_ADVICE;
    expect(silentWarning(metrics(silent), 20)).toBe(expected); // no test_ties (older runs)
    expect(silentWarning(metrics({ ...silent, test_ties: 20 }), undefined)).toBe(expected);
    expect(silentWarning(metrics({ ...silent, test_ties: 0 }), 0)).toBe(expected);
  });

  it('warns when 90% or more of the test samples are tied though the output layer fired', () => {
    const m = metrics({ firing_rate: [{ layer: 7, rate: 0.012345 }], test_ties: 9, test_acc: 0.1 });
    expect(silentWarning(m, 10)).toBe(
      "9 of 10 test samples are tied (the output layer's firing rate is 0.0123): their predictions come from the tie rule, " +
        'and the test accuracy of epoch 2, 10.00%, is chance level, not learning. ' + SILENT_ADVICE,
    );
    expect(silentWarning(metrics({ firing_rate: [], test_ties: 10, test_acc: 0.125 }), 10)).toBe(
      "10 of 10 test samples are tied (the output layer's firing rate is unknown): their predictions come from the tie rule, " +
        'and the test accuracy of epoch 2, 12.50%, is chance level, not learning. ' + SILENT_ADVICE,
    );
  });
});

describe('epochSummary', () => {
  it('joins the epoch, lr, losses, accuracies, taus, rates and timing with " | "', () => {
    expect(epochSummary(metrics())).toBe(
      'epoch 2 | lr 1.23e-3 | train loss 0.1235 acc 45.68% | test acc 41.23% | tau 2.000 1.235 | rate 0.123 0.250 | 1m05s (123.5 samples/s)',
    );
    expect(epochSummary(metrics({ val_acc: 0.4, epoch: 0, seconds: 3 }))).toBe(
      'epoch 0 | lr 1.23e-3 | train loss 0.1235 acc 45.68% | val acc 40.00% | test acc 41.23% | tau 2.000 1.235 | rate 0.123 0.250 | 3s (123.5 samples/s)',
    );
    expect(epochSummary(metrics({ val_acc: 0 }))).toContain(' | val acc 0.00% | ');
  });
});

describe('consoleReporter, off a terminal', () => {
  const reporter = (o: Partial<ReporterOptions> = {}) => {
    const out = fakeStream();
    const err = fakeStream();
    return { out, err, r: consoleReporter({ json: false, stdout: out.stream, stderr: err.stream, ...o }) };
  };

  it('starts with a line naming the run, its data, the backend and the epochs', () => {
    const { out, err, r } = reporter();
    r.start!(startInfo({ backend: { mode: 'webgl', renderer: 'ANGLE <x>', software: true }, dataDir: '/data/fm', resumedFrom: { epoch: 2, batch: 5 } }));
    expect(out.text()).toBe(
      'training fmnist-small on fashion-mnist: 100 train, 10 validation, 20 test samples from /data/fm; T=8, batch 16, backend cpu ' +
        '(webgl: ANGLE <x>; software rendering, not a GPU); 3 epochs, numbered from 0 as in metrics.jsonl (resumed at epoch 2, batch 5: 5 of its batches done)\n',
    );
    expect(err.text()).toBe('');
  });

  it('describes the backend by its mode and renderer, or its threads', () => {
    const first = (info: unknown) => {
      const { out, r } = reporter();
      r.start!(info as never);
      return out.text();
    };
    expect(first(startInfo({ backend: { mode: 'webgl', renderer: 'NVIDIA', software: false } }))).toBe(
      'training fmnist-small on fashion-mnist: 100 train, 10 validation, 20 test samples; T=8, batch 16, backend cpu (webgl: NVIDIA); 3 epochs, numbered from 0 as in metrics.jsonl\n',
    );
    expect(first(startInfo({ backend: { threads: 1 }, epochs: 1 }))).toBe(
      'training fmnist-small on fashion-mnist: 100 train, 10 validation, 20 test samples; T=8, batch 16, backend cpu (1 thread); 1 epoch, numbered from 0 as in metrics.jsonl\n',
    );
    expect(first(startInfo({ backend: { threads: 4 } }))).toContain('backend cpu (4 threads); 3 epochs,');
    expect(first(startInfo({ backend: { threads: '4' } }))).toContain('backend cpu; 3 epochs,');
    expect(first(startInfo({ backend: {} }))).toContain('backend cpu; 3 epochs,');
  });

  it('logs each epoch start, the batches at every tenth of the epoch, evaluations and the summary', () => {
    let now = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => now);
    const { out, err, r } = reporter();
    r.start!(startInfo({ epochs: 2 }));
    out.chunks.length = 0;
    r.epochStart!(0, 20, 0.001);
    const batch = (b: number, t: number) => {
      now = t;
      r.batch!({ epoch: 0, batch: b, batches: 20, samples: 16 * b, loss: 0.5 / b, acc: 0.25, samplesPerS: 32 });
    };
    batch(1, 100); // tenth 0: logged
    batch(2, 200); // tenth 1: logged
    batch(3, 30_200); // tenth 1, 30 s after the last line: not yet
    batch(3, 30_201); // more than 30 s: logged
    batch(3, 30_202);
    batch(4, 30_203); // tenth 2
    r.evalStart!('test', 20);
    r.evalStart!('val', 10);
    r.epochEnd!(metrics({ epoch: 0 }));
    expect(out.text().split('\n')).toEqual([
      'epoch 0 (the 1st of 2): 20 batches, lr 1.000e-3',
      // ETA: 19 batches of 16 samples at 32 samples/s
      'epoch 0 batch 1/20: loss 0.5000 acc 25.00% 32.0 samples/s ETA 10s',
      'epoch 0 batch 2/20: loss 0.2500 acc 25.00% 32.0 samples/s ETA 9s',
      'epoch 0 batch 3/20: loss 0.1667 acc 25.00% 32.0 samples/s ETA 9s',
      'epoch 0 batch 4/20: loss 0.1250 acc 25.00% 32.0 samples/s ETA 8s',
      'evaluating on 20 test samples',
      'evaluating on 10 validation samples',
      epochSummary(metrics({ epoch: 0 })),
      '',
    ]);
    expect(err.text()).toBe('');
  });

  it('computes the ETA from the samples per batch so far and the rate', () => {
    let now = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => now);
    const { out, r } = reporter();
    r.epochStart!(4, 100, 0.5);
    now = 1;
    // 98 batches left of 24 samples (48 in 2 batches) at 8.5 samples/s: 276.7 s
    r.batch!({ epoch: 4, batch: 2, batches: 100, samples: 48, loss: 1, acc: 1, samplesPerS: 8.5 });
    // without start the run length is unknown: "epoch 4"
    expect(out.text()).toBe('epoch 4: 100 batches, lr 5.000e-1\nepoch 4 batch 2/100: loss 1.0000 acc 100.00% 8.5 samples/s ETA 4m37s\n');
  });

  it('logs the first batch even without an epoch start', () => {
    vi.spyOn(performance, 'now').mockImplementation(() => 100);
    const { out, r } = reporter();
    r.batch!({ epoch: 0, batch: 1, batches: 20, samples: 16, loss: 0.5, acc: 0.25, samplesPerS: 32 });
    expect(out.text()).toBe('epoch 0 batch 1/20: loss 0.5000 acc 25.00% 32.0 samples/s ETA 10s\n');
  });

  it('logs every logEverySeconds at most within a tenth, and starts each epoch afresh', () => {
    let now = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => now);
    const { out, r } = reporter({ logEverySeconds: 2 });
    const lines = () => out.text().split('\n').filter((l) => l.includes(' batch '));
    r.epochStart!(0, 100, 0.1);
    const batch = (epoch: number, b: number, t: number) => {
      now = t;
      r.batch!({ epoch, batch: b, batches: 100, samples: b, loss: 0, acc: 0, samplesPerS: 1 });
    };
    batch(0, 1, 0);
    batch(0, 2, 2000); // 2 s: not more than 2 s
    batch(0, 3, 2001);
    batch(0, 4, 2002);
    expect(lines().map((l) => l.split(':')[0])).toEqual(['epoch 0 batch 1/100', 'epoch 0 batch 3/100']);
    r.epochStart!(1, 100, 0.1);
    batch(1, 1, 2003); // a new epoch: its first tenth is logged again
    expect(lines().at(-1)!.split(':')[0]).toBe('epoch 1 batch 1/100');
  });

  it('writes checkpoints other than the epoch\'s, notes on stderr, and nothing after an interrupt', () => {
    const { out, err, r } = reporter();
    r.checkpoint!('/runs/a/last.ckpt', 'epoch');
    r.checkpoint!('/runs/a/best.ckpt', 'best');
    r.note!('stale files removed');
    r.interrupt('interrupted: checkpoint follows');
    r.epochStart!(1, 10, 0.1);
    r.batch!({ epoch: 1, batch: 5, batches: 10, samples: 5, loss: 0, acc: 0, samplesPerS: 1 });
    r.checkpoint!('/runs/a/interrupt.ckpt', 'interrupt');
    expect(out.text()).toBe('checkpoint (best): /runs/a/best.ckpt\ncheckpoint (interrupt): /runs/a/interrupt.ckpt\n');
    expect(err.text()).toBe('note: stale files removed\ninterrupted: checkpoint follows\n');
  });

  it('warns on stderr when the output layer was silent, with the test samples counted at evalStart', () => {
    const { out, err, r } = reporter();
    r.evalStart!('test', 20);
    r.evalStart!('val', 10); // the validation count is not the test count
    const m = metrics({ firing_rate: [{ layer: 4, rate: 0 }], test_ties: 20 });
    r.epochEnd!(m);
    expect(out.text()).toBe(`evaluating on 20 test samples\nevaluating on 10 validation samples\n${epochSummary(m)}\n`);
    expect(err.text()).toBe(`warning: ${silentWarning(m, 20)}\n`);
    expect(err.text()).toContain('so 20 of 20 test samples are tied');
  });

  it('writes to the process streams by default', () => {
    const written: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (written.push(`out:${String(s)}`), true));
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (written.push(`err:${String(s)}`), true));
    const r = consoleReporter({ json: false });
    r.checkpoint!('/x', 'best');
    r.note!('n');
    vi.restoreAllMocks();
    expect(written).toEqual(['out:checkpoint (best): /x\n', 'err:note: n\n']);
  });
});

describe('consoleReporter with --json', () => {
  it('writes one JSON object per epoch on stdout and every human line on stderr', () => {
    const out = fakeStream();
    const err = fakeStream();
    const r = consoleReporter({ json: true, stdout: out.stream, stderr: err.stream });
    r.start!(startInfo({ epochs: 1 }));
    r.epochStart!(0, 2, 0.01);
    r.batch!({ epoch: 0, batch: 1, batches: 2, samples: 4, loss: 0.5, acc: 0.5, samplesPerS: 4 });
    r.evalStart!('test', 10);
    const ok = metrics({ epoch: 0 });
    r.epochEnd!(ok);
    const silent = metrics({ epoch: 1, firing_rate: [{ layer: 4, rate: 0 }], test_ties: 10 });
    r.epochEnd!(silent);
    r.checkpoint!('/b', 'best');
    const lines = out.text().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    expect(JSON.parse(lines[0]!)).toEqual(ok);
    expect(lines[0]).toBe(JSON.stringify(ok));
    const warning = silentWarning(silent, 10)!;
    expect(JSON.parse(lines[1]!)).toEqual({ ...silent, silent_output: true, warning });
    expect(err.text().split('\n')).toEqual([
      expect.stringMatching(/^training fmnist-small on fashion-mnist: .*; 1 epoch, numbered from 0 as in metrics\.jsonl$/),
      'epoch 0 (the 1st of 1): 2 batches, lr 1.000e-2',
      'epoch 0 batch 1/2: loss 0.5000 acc 50.00% 4.0 samples/s ETA 1s',
      'evaluating on 10 test samples',
      epochSummary(ok),
      epochSummary(silent),
      `warning: ${warning}`,
      'checkpoint (best): /b',
      '',
    ]);
  });

  it('draws the bar on stderr when stderr is a terminal, stdout keeping to JSON', () => {
    const out = fakeStream(false);
    const err = fakeStream(true);
    const r = consoleReporter({ json: true, stdout: out.stream, stderr: err.stream });
    r.epochStart!(0, 4, 0.01);
    r.batch!({ epoch: 0, batch: 2, batches: 4, samples: 8, loss: 0.25, acc: 0.5, samplesPerS: 10 });
    r.epochEnd!(metrics({ epoch: 0 }));
    expect(plain(err.text())).toContain('epoch 0 |');
    expect(plain(err.text())).toContain('| 2/4 batches | 10.0 samples/s | loss 0.2500 | acc 50.00% | ETA ');
    expect(out.text()).toBe(JSON.stringify(metrics({ epoch: 0 })) + '\n');
  });
});

describe('consoleReporter on a terminal', () => {
  it('draws a 24-character bar with the batches, rate, loss and accuracy, and ends its line before other lines', () => {
    const out = fakeStream(true);
    const err = fakeStream(false);
    const r = consoleReporter({ json: false, stdout: out.stream, stderr: err.stream });
    r.start!(startInfo({ epochs: 2 }));
    const before = out.chunks.length;
    r.epochStart!(1, 10, 0.001);
    const first = plain(out.chunks.slice(before).join(''));
    expect(first).toBe(`epoch 1 (the 2nd of 2) |${'\u2591'.repeat(24)}| 0/10 batches | - samples/s | loss - | acc - | ETA 0s`);
    expect(out.chunks.slice(before).join('')).toContain('\x1B[?25l'); // cursor hidden while the bar draws
    r.batch!({ epoch: 1, batch: 5, batches: 10, samples: 80, loss: 0.123456, acc: 0.456789, samplesPerS: 123.456 });
    expect(out.text()).not.toContain('batch 5/10'); // no log line on a terminal
    const mark = out.chunks.length;
    r.evalStart!('test', 20);
    // the bar drawn a last time, its line ended and the cursor shown again, then the line
    expect(out.chunks.slice(mark).join('')).toContain('\x1B[?25h');
    expect(plain(out.text())).toMatch(
      new RegExp(`epoch 1 \\(the 2nd of 2\\) \\|${'\u2588'.repeat(12)}${'\u2591'.repeat(12)}\\| 5/10 batches \\| 123\\.5 samples/s \\| loss 0\\.1235 \\| acc 45\\.68% \\| ETA \\S+\nevaluating on 20 test samples\n$`),
    );
    expect(err.text()).toBe('');
  });

  it('ends the bar before a note and stays quiet after an interrupt', () => {
    const out = fakeStream(true);
    const err = fakeStream(false);
    const r = consoleReporter({ json: false, stdout: out.stream, stderr: err.stream });
    r.epochStart!(0, 10, 0.001);
    r.note!('cache given up');
    expect(out.text()).toContain('\x1B[?25h');
    expect(plain(out.text()).endsWith('\n')).toBe(true);
    expect(err.text()).toBe('note: cache given up\n');
    r.epochStart!(1, 10, 0.001);
    const mark = out.chunks.length;
    r.interrupt('stopping');
    expect(out.chunks.slice(mark).join('')).toContain('\x1B[?25h');
    const after = out.chunks.length;
    r.epochStart!(2, 10, 0.001);
    r.batch!({ epoch: 2, batch: 1, batches: 10, samples: 1, loss: 0, acc: 0, samplesPerS: 1 });
    expect(out.chunks.length).toBe(after);
    expect(err.text()).toBe('note: cache given up\nstopping\n');
  });
});
