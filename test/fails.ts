// A refusal checked exactly: f throws an error of `type` whose message is exactly `message` (returned for
// further checks); `exactly` matches one whole message where a matcher takes a pattern.
import { expect } from 'vitest';

export function fails(f: () => unknown, type: new (...a: never[]) => Error, message: string): Error {
  let err: unknown = null;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(type);
  expect((err as Error).message).toBe(message);
  return err as Error;
}

/** A pattern matching exactly `text`, nothing before or after it. */
export function exactly(text: string): RegExp {
  return new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
}
