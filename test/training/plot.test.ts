// The figures of plif plot: tick labels to the tick step, one x axis (epochs trained), fixed colours per
// role, layers told apart, and the training curve as interval means.
import { describe, expect, it } from 'vitest';
import { peerInstalled } from '../../cli/commands/bench.js';
import type { EpochMetrics, TrainRecord } from '../../training/engine.js';
import { accuracyChart, axisScale, formatTick, intervalMeans, lossChart, ROLE_COLORS, tauChart, tickScale } from '../../training/charts.js';

const epoch = (e: number, acc: number, val?: number): EpochMetrics => ({
  epoch: e, lr: 1e-3, train_loss: 0.05, train_acc: acc, ...(val !== undefined ? { val_acc: val } : {}), test_acc: acc,
  tau: [2, 6, 10, 13].map((layer) => ({ layer, tau: 1.9 })), firing_rate: [], seconds: 1, samples_per_s: 1,
});
const record = (e: number, batch: number, loss: number, acc: number): TrainRecord => ({
  epoch: e, batch, batches: 4, samples: 16 * batch, train_loss: loss, train_acc: acc, tau: [2, 6, 10, 13].map((layer) => ({ layer, tau: 2 - 0.01 * batch })),
});
/** The y tick labels and x tick labels of a chart. */
const tickLabels = (svg: string, anchor: 'end' | 'middle') =>
  [...svg.matchAll(new RegExp(`text-anchor="${anchor}" font-size="12"[^>]*>([^<]*)<`, 'g'))].map((m) => m[1]);
const polylineColors = (svg: string) => [...svg.matchAll(/<polyline fill="none" stroke="([^"]+)"/g)].map((m) => m[1]);

describe('ticks', () => {
  it('are round and labelled with the decimals of their step', () => {
    expect(tickScale(0, 1, 6)).toEqual({ ticks: [0, 0.2, 0.4, 0.6, 0.8, 1], step: 0.2 });
    expect(tickScale(1.848, 2, 5).step).toBe(0.05);
    expect(formatTick(1.85, 0.05)).toBe('1.85');
    expect(formatTick(1.9, 0.05)).toBe('1.90');
    expect(formatTick(87.5, 2.5)).toBe('87.5');
    expect(formatTick(60, 20)).toBe('60');
    expect(formatTick(0.30000000000000004, 0.1)).toBe('0.3');
    expect(formatTick(-0, 0.5)).toBe('0.0');
    expect(formatTick(0.075, 0.025)).toBe('0.075');
  });
});

describe('axes fitted to the data', () => {
  it('end at the data or at the tightest round ticks covering it, never past their bounds', () => {
    // 64 steps: the axis ends at 64 (not 80), ticked inside
    expect(axisScale(0, 64, { count: 6, fit: 'data' })).toEqual({ domain: [0, 64], ticks: [0, 20, 40, 60], step: 20 });
    // one point at 0% accuracy: 0..1%, not -0.6..0.6%
    expect(axisScale(0, 0, { min: 0, max: 100 })).toEqual({ domain: [0, 1], ticks: [0, 0.2, 0.4, 0.6, 0.8, 1], step: 0.2 });
    expect(axisScale(100, 100, { min: 0, max: 100 }).domain).toEqual([95, 100]);
    // the tightest of 4 to 7 round ticks: 12.3..57.9 on 10..60, 0..64 on 0..70 (not 0..80)
    expect(axisScale(12.3, 57.9).domain).toEqual([10, 60]);
    expect(axisScale(0, 64)).toEqual({ domain: [0, 70], ticks: [0, 10, 20, 30, 40, 50, 60, 70], step: 10 });
    expect(axisScale(1.848, 2).domain).toEqual([1.825, 2]);
    // an accuracy chart of one epoch at 0%: no negative tick
    const svg = accuracyChart([epoch(0, 0)]);
    expect(/data-y-domain="([^"]+)"/.exec(svg)![1]).toBe('0 1');
    for (const label of tickLabels(svg, 'end')) expect(Number(label!.replace('%', ''))).toBeGreaterThanOrEqual(0);
  });
});

describe('figures', () => {
  const curve = [record(0, 1, 0.1, 0.25), record(0, 2, 0.09, 0.375), record(0, 3, 0.08, 0.5), record(0, 4, 0.07, 0.5625)];

  it('a one-epoch run draws the training curve against epochs trained, and the test accuracy at 1', () => {
    const svg = accuracyChart([epoch(0, 0.6)], curve);
    expect(tickLabels(svg, 'middle')).toEqual(['0.0', '0.2', '0.4', '0.6', '0.8', '1.0']);
    for (const label of tickLabels(svg, 'end')) expect(label).toMatch(/^\d+%$/);
    expect(svg).toContain('train (interval mean)');
    const train = /<polyline fill="none" stroke="#2ca02c" stroke-width="2" points="([^"]+)"/.exec(svg)![1]!.split(' ');
    expect(train).toHaveLength(4);
  });

  it('interval means undo the running mean: each is the mean of its own batches', () => {
    const means = intervalMeans(curve, 'train_acc');
    expect(means.map(([x]) => x)).toEqual([0.25, 0.5, 0.75, 1]);
    // running 0.25, 0.375, 0.5, 0.5625 over 16-sample batches: batch accuracies 0.25, 0.5, 0.75, 0.75
    expect(means.map(([, y]) => y)).toEqual([0.25, 0.5, 0.75, 0.75]);
    // a new epoch starts its own mean
    expect(intervalMeans([...curve, record(1, 1, 0.05, 0.9)], 'train_acc').at(-1)).toEqual([1.25, 0.9]);
  });

  it('keeps each role\'s colour when a validation series is added', () => {
    const without = accuracyChart([epoch(0, 0.5), epoch(1, 0.6)]);
    const withVal = accuracyChart([epoch(0, 0.5, 0.45), epoch(1, 0.6, 0.55)]);
    expect(polylineColors(without)).toEqual([ROLE_COLORS.test, ROLE_COLORS.train]);
    expect(polylineColors(withVal)).toEqual([ROLE_COLORS.test, ROLE_COLORS.validation, ROLE_COLORS.train]);
  });

  it('tells equal tau lines apart by colour, dash and marker', () => {
    const svg = tauChart([epoch(0, 0.5), epoch(1, 0.6)], 2);
    const lines = [...svg.matchAll(/<polyline fill="none" stroke="([^"]+)" stroke-width="2"(?: stroke-dasharray="([^"]+)")? points/g)];
    expect(lines).toHaveLength(4);
    expect(new Set(lines.map((m) => m[1])).size).toBe(4);
    expect(new Set(lines.map((m) => m[2] ?? 'solid')).size).toBe(4);
    for (const shape of ['<circle', '<rect x=', '<polygon']) expect(svg).toContain(shape); // circle, square, triangle, diamond
    // tau0 at 0 epochs trained, the values after epochs 0 and 1 at 1 and 2
    expect(tickLabels(svg, 'middle')[0]).toBe('0.0');
  });

  it('draws the loss from the training curve', () => {
    const svg = lossChart([epoch(0, 0.6)], curve);
    expect(svg).toContain('Training loss');
    for (const label of tickLabels(svg, 'end')) expect(label).toMatch(/^0\.\d+$/);
  });
});

describe('plif bench and TensorFlow.js', () => {
  it('sees whether an optional peer is installed', () => {
    expect(peerInstalled('@tensorflow/tfjs')).toBe(true); // a dev dependency here
    expect(peerInstalled('plif-no-such-package')).toBe(false);
  });
});
