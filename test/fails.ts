// A refusal checked exactly: f throws an error of `type` whose message is exactly `message`.
import { expect } from 'vitest';

export function fails(f: () => unknown, type: new (...a: never[]) => Error, message: string): void {
  let err: unknown = null;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(type);
  expect((err as Error).message).toBe(message);
}
