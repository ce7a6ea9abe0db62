// What plif plot accepts of a run directory (training/plot-data.ts): every field check, with the file, the
// line, the field and the quoted value in the message.
import { describe, expect, it } from 'vitest';
import { checkCurve, checkFiringMaps, checkMetrics, checkRunConfig, PlotDataError } from '../../training/plot-data.js';
import { fails } from '../fails.js';

const metricsLine = (o: Record<string, unknown> = {}) => ({ epoch: 0, lr: 0.001, train_loss: 0.1, train_acc: 0.5, test_acc: 0.4, tau: [{ layer: 2, tau: 1.9 }], firing_rate: [], seconds: 1, samples_per_s: 1, ...o });
const curveLine = (o: Record<string, unknown> = {}) => ({ epoch: 0, batch: 2, batches: 4, samples: 32, train_loss: 0.1, train_acc: 0.5, tau: [], ...o });

/** The PlotDataError thrown by `f`, its message checked to be `message`. */
function refusal(f: () => unknown, message: string) {
  expect(fails(f, PlotDataError, message).name).toBe('PlotDataError');
}

describe('checkMetrics', () => {
  it('returns the lines as they are when each holds what the figures draw', () => {
    const lines = [metricsLine(), metricsLine({ epoch: 1, val_acc: 1, test_acc: 0, train_acc: 1, train_loss: 0, tau: [{ layer: 0, tau: null }] }), metricsLine({ tau: [] })];
    const out = checkMetrics('m.jsonl', lines);
    expect(out).toEqual(lines);
    expect(out[1]).toBe(lines[1]);
    expect(checkMetrics('m.jsonl', [])).toEqual([]);
  });

  it('refuses a line that is not an object, naming the file and the line', () => {
    refusal(() => checkMetrics('m.jsonl', [5]), "m.jsonl:1: field '(the record)' must be a JSON object, got 5");
    refusal(() => checkMetrics('m.jsonl', [metricsLine(), null]), "m.jsonl:2: field '(the record)' must be a JSON object, got null");
    refusal(() => checkMetrics('m.jsonl', [[1, 2]]), "m.jsonl:1: field '(the record)' must be a JSON object, got [1,2]");
  });

  it('refuses each field out of its range, in the order epoch, test_acc, train_acc, train_loss, val_acc, tau', () => {
    const bad = (o: Record<string, unknown>, message: string) => refusal(() => checkMetrics('runs/a/metrics.jsonl', [metricsLine(), metricsLine(o)]), `runs/a/metrics.jsonl:2: ${message}`);
    bad({ epoch: -1 }, "field 'epoch' must be an integer >= 0, got -1");
    bad({ epoch: 1.5 }, "field 'epoch' must be an integer >= 0, got 1.5");
    bad({ epoch: '1' }, 'field \'epoch\' must be an integer >= 0, got "1"');
    bad({ epoch: undefined }, "field 'epoch' must be an integer >= 0, got undefined");
    bad({ test_acc: '0.5' }, 'field \'test_acc\' must be a number in [0, 1], got "0.5"');
    bad({ test_acc: 1.0001 }, "field 'test_acc' must be a number in [0, 1], got 1.0001");
    bad({ test_acc: -0.0001 }, "field 'test_acc' must be a number in [0, 1], got -0.0001");
    bad({ test_acc: Number.NaN }, "field 'test_acc' must be a number in [0, 1], got null");
    bad({ train_acc: 2, train_loss: -1 }, "field 'train_acc' must be a number in [0, 1], got 2");
    bad({ train_loss: -1e-9 }, "field 'train_loss' must be a finite number >= 0, got -1e-9");
    bad({ train_loss: Number.POSITIVE_INFINITY }, "field 'train_loss' must be a finite number >= 0, got null");
    bad({ val_acc: 1.5 }, "field 'val_acc' must be a number in [0, 1], got 1.5");
    bad({ val_acc: null }, "field 'val_acc' must be a number in [0, 1], got null");
    bad({ tau: 2 }, "field 'tau' must be a list of { layer, tau }, got 2");
    bad({ tau: [2] }, "field 'tau' must be a list of { layer, tau }, got [2]");
    bad({ tau: [[]] }, "field 'tau' must be a list of { layer, tau }, got [[]]");
    bad({ tau: [null] }, "field 'tau' must be a list of { layer, tau }, got [null]");
    bad({ tau: [{ layer: 1.5, tau: 2 }] }, 'field \'tau\' must be a list of { layer, tau }, got [{"layer":1.5,"tau":2}]');
    bad({ tau: [{ layer: -1, tau: 2 }] }, 'field \'tau\' must be a list of { layer, tau }, got [{"layer":-1,"tau":2}]');
    bad({ tau: [{ tau: 2 }] }, 'field \'tau\' must be a list of { layer, tau }, got [{"tau":2}]');
    bad({ tau: [{ layer: 0, tau: '2' }] }, 'field \'tau\' must be a list of { layer, tau }, got [{"layer":0,"tau":"2"}]');
    bad({ tau: [{ layer: 0 }] }, 'field \'tau\' must be a list of { layer, tau }, got [{"layer":0}]');
    bad({ tau: [{ layer: 0, tau: 1 }, { layer: 1, tau: Number.POSITIVE_INFINITY }] }, 'field \'tau\' must be a list of { layer, tau }, got [{"layer":0,"tau":1},{"layer":1,"tau":null}]');
  });

  it('quotes at most 200 characters of a value', () => {
    refusal(() => checkMetrics('m.jsonl', [metricsLine({ test_acc: 'x'.repeat(300) })]), `m.jsonl:1: field 'test_acc' must be a number in [0, 1], got "${'x'.repeat(199)}…(302 chars)`);
  });
});

describe('checkCurve', () => {
  it('returns the lines when each holds a point of the training curve', () => {
    const lines = [curveLine(), curveLine({ batch: 0 }), curveLine({ batch: 4, batches: 4, samples: 0, train_acc: 1, train_loss: 0, tau: [{ layer: 3, tau: 2 }] }), curveLine({ batches: 1, batch: 1 })];
    expect(checkCurve('c.jsonl', lines)).toEqual(lines);
  });

  it('refuses each field out of its range, naming the line', () => {
    const bad = (o: Record<string, unknown>, message: string) => refusal(() => checkCurve('c.jsonl', [curveLine(), curveLine(), curveLine(o)]), `c.jsonl:3: ${message}`);
    refusal(() => checkCurve('c.jsonl', ['x']), 'c.jsonl:1: field \'(the record)\' must be a JSON object, got "x"');
    bad({ epoch: -2 }, "field 'epoch' must be an integer >= 0, got -2");
    bad({ batches: 0, batch: 0 }, "field 'batches' must be an integer >= 1, got 0");
    bad({ batches: 2.5 }, "field 'batches' must be an integer >= 1, got 2.5");
    bad({ batch: 5 }, "field 'batch' must be an integer in [0, 4] (batches), got 5");
    bad({ batch: -1 }, "field 'batch' must be an integer in [0, 4] (batches), got -1");
    bad({ batch: 1.5, batches: 3 }, "field 'batch' must be an integer in [0, 3] (batches), got 1.5");
    bad({ batch: null }, "field 'batch' must be an integer in [0, 4] (batches), got null");
    bad({ samples: -1 }, "field 'samples' must be an integer >= 0, got -1");
    bad({ samples: 3.5 }, "field 'samples' must be an integer >= 0, got 3.5");
    bad({ train_acc: 1.5 }, "field 'train_acc' must be a number in [0, 1], got 1.5");
    bad({ train_loss: -0.5 }, "field 'train_loss' must be a finite number >= 0, got -0.5");
    bad({ tau: null }, "field 'tau' must be a list of { layer, tau }, got null");
  });
});

describe('checkRunConfig', () => {
  it('reads the class names and tau0 where present', () => {
    expect(checkRunConfig('config.json', { dataset: { classes: ['a', 'b'] }, network: { tau0: 2 } })).toEqual({ dataset: { classes: ['a', 'b'] }, network: { tau0: 2 } });
    expect(checkRunConfig('config.json', { dataset: { classes: [] }, network: { tau0: 0 } })).toEqual({ dataset: { classes: [] }, network: { tau0: 0 } });
    expect(checkRunConfig('config.json', {})).toEqual({});
    expect(checkRunConfig('config.json', { dataset: {}, network: {} })).toEqual({});
    expect(checkRunConfig('config.json', { dataset: { name: 'x' }, network: { tau0: null } })).toEqual({});
    // not objects: nothing read
    expect(checkRunConfig('config.json', { dataset: 'mnist', network: [2] })).toEqual({});
    expect(checkRunConfig('config.json', { dataset: ['a'], network: 'n' })).toEqual({});
    expect(checkRunConfig('config.json', { network: { tau0: 1.5 } })).toEqual({ network: { tau0: 1.5 } });
  });

  it('refuses a config that is not an object, class names that are not strings and a tau0 that is not a number', () => {
    refusal(() => checkRunConfig('runs/a/config.json', 'x'), 'runs/a/config.json: field \'(the record)\' must be a JSON object, got "x"');
    refusal(() => checkRunConfig('runs/a/config.json', null), "runs/a/config.json: field '(the record)' must be a JSON object, got null");
    refusal(() => checkRunConfig('c.json', { dataset: { classes: 'ab' } }), 'c.json: field \'dataset.classes\' must be a list of class names, got "ab"');
    refusal(() => checkRunConfig('c.json', { dataset: { classes: ['a', 2] } }), 'c.json: field \'dataset.classes\' must be a list of class names, got ["a",2]');
    refusal(() => checkRunConfig('c.json', { dataset: { classes: null } }), "c.json: field 'dataset.classes' must be a list of class names, got null");
    refusal(() => checkRunConfig('c.json', { network: { tau0: '2' } }), 'c.json: field \'network.tau0\' must be a finite number, got "2"');
    refusal(() => checkRunConfig('c.json', { network: { tau0: Number.POSITIVE_INFINITY } }), "c.json: field 'network.tau0' must be a finite number, got null");
  });
});

describe('checkFiringMaps', () => {
  const maps = (o: Record<string, unknown> = {}) => ({
    layer: 1,
    token: 'plif',
    shape: [1, 2, 3],
    samples: [
      { index: 0, label: 3, rates: [0, 0.5, 1, 0, 0, 0] },
      { index: 7, label: 0, rates: [1, 1, 1, 1, 1, 1] },
    ],
    ...o,
  });

  it('returns maps of the layer, its shape and each sample\'s rates', () => {
    const m = maps();
    expect(checkFiringMaps('f.json', m)).toBe(m);
    expect(checkFiringMaps('f.json', maps({ shape: [6], samples: [] }))).toEqual(maps({ shape: [6], samples: [] }));
    expect(checkFiringMaps('f.json', maps({ shape: [2, 3] })).shape).toEqual([2, 3]);
    // the largest map: 2^24 values per sample
    expect(checkFiringMaps('f.json', maps({ shape: [4096, 4096], samples: [] })).shape).toEqual([4096, 4096]);
  });

  it('refuses a bad layer, token or shape', () => {
    const bad = (o: Record<string, unknown>, message: string) => refusal(() => checkFiringMaps('runs/a/firing-maps.json', maps(o)), `runs/a/firing-maps.json: ${message}`);
    refusal(() => checkFiringMaps('f.json', [1]), "f.json: field '(the record)' must be a JSON object, got [1]");
    bad({ layer: -1 }, "field 'layer' must be an integer >= 0, got -1");
    bad({ token: 5 }, "field 'token' must be a layer token (a string), got 5");
    bad({ token: undefined }, "field 'token' must be a layer token (a string), got undefined");
    bad({ shape: '1,2,3' }, 'field \'shape\' must be [C, H, W] of positive integers, got "1,2,3"');
    bad({ shape: [] }, "field 'shape' must be [C, H, W] of positive integers, got []");
    bad({ shape: [1, 1, 1, 6] }, "field 'shape' must be [C, H, W] of positive integers, got [1,1,1,6]");
    bad({ shape: [1, 0, 6] }, "field 'shape' must be [C, H, W] of positive integers, got [1,0,6]");
    bad({ shape: [1, 2, 3.5] }, "field 'shape' must be [C, H, W] of positive integers, got [1,2,3.5]");
    bad({ shape: ['1', 2, 3] }, 'field \'shape\' must be [C, H, W] of positive integers, got ["1",2,3]');
    bad({ shape: [4097, 4096] }, "field 'shape' must be at most 16777216 values, got [4097,4096]");
    bad({ shape: [64, 512, 513] }, "field 'shape' must be at most 16777216 values, got [64,512,513]");
  });

  it('refuses samples that are not a list of { index, label, rates } of the shape\'s size', () => {
    const bad = (o: Record<string, unknown>, message: string) => refusal(() => checkFiringMaps('f.json', maps(o)), `f.json: ${message}`);
    const second = (s: unknown) => ({ samples: [maps().samples[0], s] });
    bad({ samples: { 0: 1 } }, 'field \'samples\' must be a list of { index, label, rates }, got {"0":1}');
    bad({ samples: undefined }, "field 'samples' must be a list of { index, label, rates }, got undefined");
    bad(second(3), "samples[1]: field '(the record)' must be a JSON object, got 3");
    bad(second({ index: -1, label: 0, rates: [0, 0, 0, 0, 0, 0] }), "samples[1]: field 'index' must be an integer >= 0, got -1");
    bad(second({ index: 0, label: 0.5, rates: [0, 0, 0, 0, 0, 0] }), "samples[1]: field 'label' must be an integer >= 0, got 0.5");
    bad(second({ index: 0, label: 0, rates: [0, 0, 0, 0, 0] }), 'samples[1]: field \'rates\' must be 6 firing rates in [0, 1] (the shape [1, 2, 3]), got "a list of 5 values"');
    bad(second({ index: 0, label: 0, rates: [0, 0, 0, 0, 0, 0, 0] }), 'samples[1]: field \'rates\' must be 6 firing rates in [0, 1] (the shape [1, 2, 3]), got "a list of 7 values"');
    bad(second({ index: 0, label: 0, rates: [0, 0, 0, 0, 0, 1.01] }), 'samples[1]: field \'rates\' must be 6 firing rates in [0, 1] (the shape [1, 2, 3]), got "a list of 6 values"');
    bad(second({ index: 0, label: 0, rates: [-0.01, 0, 0, 0, 0, 0] }), 'samples[1]: field \'rates\' must be 6 firing rates in [0, 1] (the shape [1, 2, 3]), got "a list of 6 values"');
    bad(second({ index: 0, label: 0, rates: [0, '0', 0, 0, 0, 0] }), 'samples[1]: field \'rates\' must be 6 firing rates in [0, 1] (the shape [1, 2, 3]), got "a list of 6 values"');
    bad(second({ index: 0, label: 0, rates: 'none' }), 'samples[1]: field \'rates\' must be 6 firing rates in [0, 1] (the shape [1, 2, 3]), got "none"');
    bad({ shape: [6], samples: [{ index: 0, label: 0 }] }, "samples[0]: field 'rates' must be 6 firing rates in [0, 1] (the shape [6]), got undefined");
  });
});
