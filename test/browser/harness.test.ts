// The conformance page runs proofs/conformance.ts on web/shims/vitest.ts instead of vitest: its expectations
// must fail where vitest's would, or the page could report a broken backend as conforming.
import { describe as vdescribe, expect as vexpect, it as vit } from 'vitest';
import { describe, expect, it, runCollected } from '../../web/shims/vitest.js';

vdescribe('the conformance page harness (web/shims/vitest.ts)', () => {
  vit('matchers pass and fail as vitest: toBe, toEqual (arrays, typed arrays, objects), toBeNull, not, comparisons, toThrow', () => {
    const passes = [
      () => expect(1).toBe(1),
      () => expect([3, 2]).toEqual([3, 2]),
      () => expect(Float32Array.of(1, 2)).toEqual(Float32Array.of(1, 2)),
      () => expect({ a: [1], b: 'x' }).toEqual({ b: 'x', a: [1] }),
      () => expect(null).toBeNull(),
      () => expect(0).not.toBeNull(),
      () => expect(1).toBeLessThan(2),
      () => expect(2).toBeLessThanOrEqual(2),
      () => expect(() => {
        throw new Error('used after dispose');
      }).toThrow(/dispose/),
    ];
    const failures = [
      () => expect(1).toBe(2),
      () => expect(0).toBe(-0),
      () => expect([3, 2]).toEqual([3, 2, 1]),
      () => expect(Float32Array.of(1, 2)).toEqual(Float32Array.of(1, 3)),
      () => expect([1]).toEqual(Float32Array.of(1)),
      () => expect({ a: 1 }).toEqual({ a: 1, b: 2 }),
      () => expect(undefined).toBeNull(),
      () => expect(null).not.toBeNull(),
      () => expect(NaN).toBeLessThanOrEqual(1),
      () => expect(3).toBeLessThan(2),
      () => expect(() => 1).toThrow(),
      () => expect(() => {
        throw new Error('other');
      }).toThrow(/dispose/),
    ];
    for (const f of passes) vexpect(f).not.toThrow();
    for (const f of failures) vexpect(f).toThrow(/expected/);
    vexpect(() => expect(1, 'loss of c1k3s1').toBe(2)).toThrow(/^loss of c1k3s1: expected 1 to be 2$/);
  });

  vit('runCollected runs every collected test in order and reports the failures with their messages', async () => {
    const order: string[] = [];
    describe('outer', () => {
      describe('inner', () => {
        it('passes', () => void order.push('a'));
        it('fails', () => {
          order.push('b');
          expect(1).toBe(2);
        });
      });
      it('async passes', async () => void order.push('c'));
    });
    const results = await runCollected();
    vexpect(order).toEqual(['a', 'b', 'c']);
    vexpect(results.map((r) => [r.suite, r.name, r.ok])).toEqual([
      ['outer > inner', 'passes', true],
      ['outer > inner', 'fails', false],
      ['outer', 'async passes', true],
    ]);
    vexpect(results[1]!.error).toBe('expected 1 to be 2');
    vexpect(await runCollected()).toEqual([]); // the collection was emptied
  });
});
