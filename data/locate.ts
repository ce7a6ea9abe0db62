// Where dataset files come from. Search order: an explicit data directory (--data-dir; when given,
// nothing else is searched), then $PLIF_DATA/<dataset> (when that directory exists, nothing else is
// searched either), then well-known places (Debian's dataset-fashion-mnist package installs
// /usr/share/datasets/fashion-mnist/). Nothing is downloaded.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DatasetNotFoundError, type SearchedPlace } from './errors.js';
import { CIFAR10DVS_CLASSES, DATASET_NAMES, idxFiles, type DatasetName, type Split } from './names.js';

interface DatasetInfo {
  publisher: string;
  /** Well-known directories, with a word on where they come from. */
  wellKnown: Array<{ dir: string; source: string }>;
  /** Sub-folders of a data directory that may hold the files (as unpacked from the archives). */
  subdirs: string[];
  /** Relative paths that must exist for a split; `a|b` means either. */
  expected(split: Split): string[];
  layout: string;
}

export const DATASETS: Record<DatasetName, DatasetInfo> = {
  mnist: {
    publisher: 'http://yann.lecun.com/exdb/mnist/ (mirror: https://ossci-datasets.s3.amazonaws.com/mnist/)',
    wellKnown: [{ dir: '/usr/share/datasets/mnist', source: 'well-known (Debian-style /usr/share/datasets)' }],
    subdirs: ['', 'raw', 'MNIST/raw'],
    expected: (s) => Object.values(idxFiles(s)).map((f) => `${f}|${f.slice(0, -3)}`),
    layout: 'Layout: the four IDX files side by side in one directory, gzip-compressed (.gz) or not.',
  },
  'fashion-mnist': {
    publisher: 'https://github.com/zalandoresearch/fashion-mnist (Debian/Ubuntu: apt install dataset-fashion-mnist)',
    wellKnown: [{ dir: '/usr/share/datasets/fashion-mnist', source: 'well-known (Debian package dataset-fashion-mnist)' }],
    subdirs: ['', 'raw', 'FashionMNIST/raw'],
    expected: (s) => Object.values(idxFiles(s)).map((f) => `${f}|${f.slice(0, -3)}`),
    layout: 'Layout: the four IDX files side by side in one directory, gzip-compressed (.gz) or not.',
  },
  cifar10: {
    publisher: 'https://www.cs.toronto.edu/~kriz/cifar.html ("CIFAR-10 binary version", cifar-10-binary.tar.gz)',
    wellKnown: [{ dir: '/usr/share/datasets/cifar10', source: 'well-known (Debian-style /usr/share/datasets)' }],
    subdirs: ['', 'cifar-10-batches-bin'],
    expected: (s) => (s === 'train' ? ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'] : ['test_batch.bin']),
    layout: 'Layout: the .bin batches in the data directory or in its cifar-10-batches-bin/ folder (as the archive unpacks).',
  },
  nmnist: {
    publisher: 'https://www.garrickorchard.com/datasets/n-mnist (files Train.zip, Test.zip; also https://data.mendeley.com/datasets/468j46mzdv/1)',
    wellKnown: [],
    subdirs: [''],
    expected: (s) => Array.from({ length: 10 }, (_, c) => `${s === 'train' ? 'Train' : 'Test'}/${c}/`),
    layout: 'Layout: Train/<digit>/*.bin and Test/<digit>/*.bin (digit folders 0..9, as Train.zip and Test.zip unpack).',
  },
  cifar10dvs: {
    publisher: 'https://figshare.com/articles/dataset/CIFAR10-DVS_New/4724671 (one zip per class)',
    wellKnown: [],
    subdirs: [''],
    expected: () => CIFAR10DVS_CLASSES.map((c) => `${c}/`),
    layout: 'Layout: one folder per class (airplane, automobile, ..., truck) holding cifar10_<class>_<k>.aedat, k = 0..999.',
  },
  dvs128: {
    publisher: 'https://research.ibm.com/interactive/dvsgesture/ (DvsGesture.tar.gz; also https://ibm.ent.box.com/s/3hiq58ww1pbbjrinh367ykfdf60xsfm8)',
    wellKnown: [],
    subdirs: ['', 'DvsGesture'],
    expected: (s) => [s === 'train' ? 'trials_to_train.txt' : 'trials_to_test.txt'],
    layout: 'Layout: the unpacked DvsGesture/ folder: userNN_<lighting>.aedat, userNN_<lighting>_labels.csv, trials_to_train.txt, trials_to_test.txt.',
  },
};

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The paths of `expected` entries missing under dir ('a|b' is present when a or b is). */
function missingUnder(dir: string, expected: string[]): string[] {
  return expected.filter((e) => {
    const first = e.split(' ')[0]!;
    return !first.split('|').some((alt) => (alt.endsWith('/') ? isDir(join(dir, alt)) : existsSync(join(dir, alt))));
  });
}

export interface LocateOptions {
  /** Explicit data directory (the --data-dir flag). When given, only it is searched. */
  dataDir?: string;
  /** Environment to read PLIF_DATA from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** Finds the directory holding a dataset split, or throws DatasetNotFoundError naming every place searched. */
export function locateDataset(name: DatasetName, split: Split, opts: LocateOptions = {}): string {
  const info = DATASETS[name];
  if (!info) throw new RangeError(`unknown dataset '${String(name)}'; known: ${DATASET_NAMES.join(', ')}`);
  const env = opts.env ?? process.env;
  const candidates: Array<{ dir: string; source: string }> = [];
  if (opts.dataDir !== undefined) {
    candidates.push({ dir: resolve(opts.dataDir), source: '--data-dir' });
  } else {
    if (env['PLIF_DATA']) candidates.push({ dir: resolve(env['PLIF_DATA'], name), source: '$PLIF_DATA/' + name });
    candidates.push(...info.wellKnown);
  }
  const expected = info.expected(split);
  const searched: SearchedPlace[] = [];
  for (const c of candidates) {
    if (!isDir(c.dir)) {
      searched.push({ ...c, reason: 'does not exist' });
      continue;
    }
    let best: string[] | null = null;
    for (const sub of info.subdirs) {
      const d = sub ? join(c.dir, sub) : c.dir;
      if (sub && !isDir(d)) continue;
      const miss = missingUnder(d, expected);
      if (miss.length === 0) return d;
      if (best === null || miss.length < best.length) best = miss;
    }
    searched.push({ ...c, reason: `missing ${best!.join(', ')}` });
    // A $PLIF_DATA/<dataset> directory that exists is where the user put the dataset: an incomplete one is an
    // error, not a reason to read another copy from a well-known place.
    if (c.source.startsWith('$PLIF_DATA')) {
      searched[searched.length - 1]!.reason += ' (it exists, so no other place is searched)';
      break;
    }
  }
  if (opts.dataDir === undefined && !env['PLIF_DATA']) {
    searched.unshift({ dir: '(none)', source: '$PLIF_DATA', reason: 'not set' });
  }
  throw new DatasetNotFoundError(name, searched, expected.map((e) => e.replace('|', '  (or, uncompressed, ') + (e.includes('|') ? ')' : '')), info.publisher, info.layout);
}
