// The entry points export the split-out modules themselves (names, IDX decoding, file helpers, charts),
// now that the Node modules no longer re-export them.
import { describe, expect, it } from 'vitest';
import * as data from '../../data/index.js';
import * as names from '../../data/names.js';
import * as idxDecode from '../../data/idx-decode.js';
import * as fileIo from '../../data/file-io.js';
import * as training from '../../training/index.js';
import * as charts from '../../training/charts.js';

describe('entry points', () => {
  it('plif-snn/data exports every name of names.ts, idx-decode.ts and file-io.ts, the same objects', () => {
    for (const mod of [names, idxDecode, fileIo]) {
      for (const [k, v] of Object.entries(mod)) expect((data as Record<string, unknown>)[k], k).toBe(v);
    }
    expect(data.DATASET_NAMES).toContain('cifar10dvs');
  });

  it('plif-snn/training exports the charts of plif plot', () => {
    for (const k of ['accuracyChart', 'lossChart', 'tauChart', 'lineChart', 'niceTicks', 'tickScale', 'formatTick', 'intervalMeans', 'ROLE_COLORS'] as const) {
      expect((training as Record<string, unknown>)[k], k).toBe(charts[k]);
    }
  });
});
