// Errors and warnings of the data layer. Every message names the file and, where one exists,
// the byte offset (or 1-based line) at which the problem was found.

/** A file that does not follow its format: wrong magic, truncated record, bad value, ... */
export class DataFormatError extends Error {
  override readonly name = 'DataFormatError';
  /** The file that was being read. */
  readonly file: string;
  /** Byte offset of the offending record/field, or null when no single offset applies. */
  readonly offset: number | null;
  /** 1-based line number, for text files (labels CSV, trial lists). */
  readonly line: number | null;

  constructor(file: string, offset: number | null, message: string, line: number | null = null) {
    const where = line !== null ? `line ${line}` : offset !== null ? `byte offset ${offset}` : null;
    super(`${file}${where !== null ? ` (${where})` : ''}: ${message}`);
    this.file = file;
    this.offset = offset;
    this.line = line;
  }
}

/** One place that was searched for a dataset, and why it did not qualify. */
export interface SearchedPlace {
  dir: string;
  /** Where this candidate came from: '--data-dir', '$PLIF_DATA', 'well-known (...)'. */
  source: string;
  /** Why it was rejected: 'does not exist', or the missing file names. */
  reason: string;
}

/** No directory holding the files of a dataset was found. */
export class DatasetNotFoundError extends Error {
  override readonly name = 'DatasetNotFoundError';
  readonly dataset: string;
  readonly searched: readonly SearchedPlace[];
  readonly expected: readonly string[];

  constructor(dataset: string, searched: readonly SearchedPlace[], expected: readonly string[], publisher: string, layoutHint: string) {
    const places = searched.length
      ? searched.map((s) => `  - ${s.dir} [${s.source}]: ${s.reason}`).join('\n')
      : '  (nowhere: no --data-dir, $PLIF_DATA unset, and no well-known place for this dataset)';
    super(
      `dataset '${dataset}' not found.\n` +
        `Places searched:\n${places}\n` +
        `Expected files (relative to the data directory):\n${expected.map((e) => `  ${e}`).join('\n')}\n` +
        `${layoutHint}\n` +
        `The dataset is published at ${publisher} (nothing is downloaded at run time; see docs/datasets.md).\n` +
        `Give the directory with --data-dir DIR or put it at $PLIF_DATA/${dataset}.`,
    );
    this.dataset = dataset;
    this.searched = searched;
    this.expected = expected;
  }
}

/** A problem the format tolerates (the reader kept going), reported to the caller. */
export interface DataWarning {
  file: string;
  /** Byte offset of the first occurrence. */
  offset: number;
  message: string;
}

/** Options shared by the event readers. */
export interface ReadOptions {
  /** Turn every warning (e.g. timestamps going backwards) into a DataFormatError. */
  strict?: boolean;
  /** Read buffer size in bytes for streaming readers (default 4 MiB). */
  chunkSize?: number;
}

