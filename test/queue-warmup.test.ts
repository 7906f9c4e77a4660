/** The queue simulator's warm-up, load-step arrivals and the loss/accuracy time series (issue 17). */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { simulate, type QueueConfig, type QueueResult } from '../lib/queue.ts';
import { loadSteps, makeArrivals, meanRate, type ArrivalConfig } from '../lib/arrivals.ts';
import { modelInfo, type Policy } from '../lib/policy.ts';
import { Rng } from '../lib/random.ts';
import { scoreTrace } from '../lib/scores.ts';
import { syntheticTrace } from '../lib/synthetic.ts';
import { InputError } from '../lib/errors.ts';
import { backlogThreshold, fixedExit, reactive, threshold } from '../policies/index.ts';

const s = suite('queue-warmup');
const scored = scoreTrace(syntheticTrace({ nSamples: 400, nExits: 4, seed: 23 }));
const ctx = () => ({ rng: new Rng(1), model: modelInfo(scored) });
const K = scored.trace.nExits;
const cost = scored.trace.costMs;
const policies: (() => Policy)[] = [
  () => fixedExit.create({ exit: -1 }, ctx()),
  () => threshold.create({ score: 'maxprob', thresholds: 0.7 }, ctx()),
  () => reactive.create({ startExit: -1 }, ctx()),
  () => {
    const p = backlogThreshold.create(backlogThreshold.parse({ control: 'backlog', rungs: 8 }), ctx());
    p.fit!(scored, {});
    return p;
  },
];

/** Every statistic the warm-up affects, recomputed from the per-job records of the same run. */
function fromRecords(r: QueueResult, counted: (i: number) => boolean, warmEnd: number) {
  const rec = r.records!;
  let arrivals = 0;
  let served = 0;
  let lost = 0;
  let correct = 0;
  let sumResponse = 0;
  let inSystemAtEnd = 0;
  const exits = new Array<number>(K).fill(0);
  for (let i = 0; i < rec.arrivalMs.length; i++) {
    if (!counted(i)) continue;
    arrivals++;
    if (rec.lost[i]) lost++;
    else if (Number.isNaN(rec.endMs[i])) inSystemAtEnd++;
    else {
      served++;
      correct += rec.correct[i];
      sumResponse += rec.endMs[i] - rec.arrivalMs[i];
      exits[rec.exit[i]]++;
    }
  }
  // Time-average number in system over [warmEnd, end]: every job's stay (warm-up jobs included, they occupy the
  // system after it), clipped to that window.
  const end = warmEnd + r.metrics.elapsedMs;
  let area = 0;
  for (let i = 0; i < rec.arrivalMs.length; i++) {
    if (rec.lost[i]) continue;
    const leave = Number.isNaN(rec.endMs[i]) ? end : rec.endMs[i];
    const a = Math.max(rec.arrivalMs[i], warmEnd);
    if (leave > a) area += Math.min(leave, end) - a;
  }
  return { arrivals, served, lost, correct, inSystemAtEnd, meanResponse: sumResponse / served, exits, meanInSystem: area / r.metrics.elapsedMs };
}

s('warm-up by arrivals or by time: every statistic equals the same run recomputed from records of the jobs after it', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 6 }),
      fc.double({ min: 0.3, max: 3, noNaN: true }),
      fc.integer({ min: 0, max: policies.length - 1 }),
      fc.oneof(fc.integer({ min: 0, max: 300 }).map((n) => ({ arrivals: n })), fc.double({ min: 0, max: 400, noNaN: true }).map((t) => ({ timeMs: t }))),
      fc.boolean(),
      fc.integer({ min: 0, max: 1e6 }),
      (B, load, pi, warmup, drained, seed) => {
        const base: QueueConfig = { bufferCapacity: B, arrivals: { kind: 'poisson', ratePerMs: load / cost[K - 1] }, records: true, seed, ...(drained ? { maxArrivals: 600 } : { horizonMs: 1500 }) };
        const r = simulate(policies[pi](), scored, { ...base, warmup });
        const m = r.metrics;
        const rec = r.records!;
        const counted = 'arrivals' in warmup ? (i: number) => i >= warmup.arrivals : (i: number) => rec.arrivalMs[i] >= warmup.timeMs;
        if ('arrivals' in warmup) {
          const expectEnd = warmup.arrivals === 0 ? 0 : warmup.arrivals < rec.arrivalMs.length ? rec.arrivalMs[warmup.arrivals] : Infinity;
          assert.is(m.warmupEndMs, expectEnd);
        } else assert.is(m.warmupEndMs, warmup.timeMs);
        const x = fromRecords(r, counted, m.warmupEndMs);
        assert.is(m.arrivals, x.arrivals);
        assert.is(m.served, x.served);
        assert.is(m.lost, x.lost);
        assert.is(m.inSystemAtEnd, x.inSystemAtEnd);
        assert.is(m.arrivals, m.served + m.lost + m.inSystemAtEnd);
        if (m.served > 0) {
          assert.ok(Math.abs(m.accuracyServed - x.correct / x.served) < 1e-12);
          assert.ok(Math.abs(m.meanResponseMs - x.meanResponse) < 1e-9 * Math.max(1, x.meanResponse));
          m.exitShares.forEach((sh, k) => assert.ok(Math.abs(sh - x.exits[k] / x.served) < 1e-12));
        }
        if (m.elapsedMs > 0) assert.ok(Math.abs(m.meanInSystem - x.meanInSystem) < 1e-7 * Math.max(1, x.meanInSystem), `L ${m.meanInSystem} vs records ${x.meanInSystem}`);
        // No warm-up and a zero warm-up are the same run, bit for bit.
        if (('arrivals' in warmup && warmup.arrivals === 0) || ('timeMs' in warmup && warmup.timeMs === 0)) {
          assert.equal(simulate(policies[pi](), scored, base).metrics, m);
        }
      },
    ),
    { numRuns: 120 },
  );
});

s('a warm-up changes statistics, not the run: same seed, same per-job records with or without it', () => {
  const cfg: QueueConfig = { bufferCapacity: 3, arrivals: { kind: 'poisson', ratePerMs: 0.4 }, maxArrivals: 2000, records: true, seed: 9 };
  const a = simulate(policies[3](), scored, cfg);
  const b = simulate(policies[3](), scored, { ...cfg, warmup: { arrivals: 700 } });
  for (const col of Object.keys(a.records!) as (keyof QueueResult['records'] & string)[]) {
    assert.equal(Array.from(b.records![col] as ArrayLike<number>), Array.from(a.records![col] as ArrayLike<number>), col);
  }
  assert.is(b.metrics.arrivals, 1300);
  assert.ok(a.metrics.arrivals === 2000 && b.metrics.elapsedMs < a.metrics.elapsedMs);
});

s('bad warm-ups and load steps are InputErrors naming the field', () => {
  const base: QueueConfig = { bufferCapacity: 2, arrivals: { kind: 'poisson', ratePerMs: 1 }, maxArrivals: 10, seed: 1 };
  const cases: [Partial<QueueConfig> | Record<string, unknown>, RegExp][] = [
    [{ warmup: { arrivals: -1 } }, /warmup\.arrivals: expected an integer ≥ 0/],
    [{ warmup: { timeMs: NaN } }, /warmup\.timeMs: expected a finite time ≥ 0/],
    [{ warmup: { timeMs: 1, arrivals: 2 } }, /warmup: expected \{ timeMs \} or \{ arrivals \}/],
    [{ warmup: {} }, /warmup: expected/],
    [{ arrivals: { kind: 'steps', ratesPerMs: [1, 2], atMs: [] } }, /atMs: expected 1 step times/],
    [{ arrivals: { kind: 'steps', ratesPerMs: [1, 2, 3], atMs: [5, 5] } }, /atMs\[1\]: expected a finite time > 5 ms/],
    [{ arrivals: { kind: 'steps', ratesPerMs: [1, -2], atMs: [5] } }, /ratesPerMs\[1\]: expected a non-negative finite rate/],
    [{ arrivals: { kind: 'steps', ratesPerMs: [1, 0], atMs: [5] } }, /ratesPerMs\[1\]: expected a positive last rate/],
    [{ arrivals: { kind: 'steps', ratesPerMs: [], atMs: [] } }, /ratesPerMs: expected a non-empty array/],
  ];
  for (const [patch, re] of cases) {
    assert.throws(() => simulate(policies[0](), scored, { ...base, ...patch } as QueueConfig), (e: unknown) => e instanceof InputError && re.test((e as Error).message), JSON.stringify(patch));
  }
  assert.throws(() => loadSteps(1, 0), (e: unknown) => e instanceof InputError && /phaseMs/.test((e as Error).message));
  assert.throws(() => loadSteps(1, 10, []), (e: unknown) => e instanceof InputError && /loads/.test((e as Error).message));
});

s('load steps: arrival counts in each phase match its rate; a zero-rate phase has no arrivals', () => {
  const cfg: ArrivalConfig = { kind: 'steps', ratesPerMs: [0.5, 2, 0, 0.8], atMs: [20000, 30000, 35000] };
  const proc = makeArrivals(cfg, new Rng(4));
  const counts = [0, 0, 0, 0];
  const bounds = [0, 20000, 30000, 35000, 60000];
  let last = 0;
  for (;;) {
    const t = proc.next();
    assert.ok(t >= last);
    last = t;
    if (t >= bounds[4]) break;
    counts[bounds.findIndex((b, i) => t >= b && t < bounds[i + 1])]++;
  }
  [0.5, 2, 0, 0.8].forEach((rate, i) => {
    const expected = rate * (bounds[i + 1] - bounds[i]);
    // Poisson count: within 5 standard deviations (√expected).
    assert.ok(Math.abs(counts[i] - expected) <= 5 * Math.sqrt(expected), `phase ${i}: ${counts[i]} arrivals, expected ${expected}`);
  });
  assert.is(counts[2], 0);
  assert.is(meanRate(cfg), 0.8);
  const steps = loadSteps(0.25, 1000, [0.5, 2, 0.8]);
  assert.equal(steps, { kind: 'steps', ratesPerMs: [0.125, 0.5, 0.2], atMs: [1000, 2000] });
});

s('time series counts arrivals, losses, served and correct per interval; a step to overload shows as losses', () => {
  const every = 50 * cost[K - 1];
  const arrivals = loadSteps(1 / cost[K - 1], 2000 * cost[K - 1], [0.5, 2, 0.8]);
  for (const make of policies) {
    const r = simulate(make(), scored, { bufferCapacity: 5, arrivals, horizonMs: 6000 * cost[K - 1], timeSeriesEveryMs: every, records: true, seed: 3 });
    const ts = r.timeSeries!;
    const rec = r.records!;
    const n = ts.timeMs.length;
    assert.ok(ts.arrived.length === n && ts.lost.length === n && ts.served.length === n && ts.correct.length === n);
    // Interval counts are the records binned by sample time (arrivals at their arrival, departures at their end);
    // an event at a sample time belongs to the next interval (the sample is taken before the event).
    for (let i = 0; i < n; i++) {
      const lo = i === 0 ? -Infinity : ts.timeMs[i - 1];
      const hi = ts.timeMs[i];
      let arrived = 0;
      let lost = 0;
      let served = 0;
      let correct = 0;
      for (let j = 0; j < rec.arrivalMs.length; j++) {
        if (rec.arrivalMs[j] >= lo && rec.arrivalMs[j] < hi) {
          arrived++;
          lost += rec.lost[j];
        }
        if (rec.endMs[j] >= lo && rec.endMs[j] < hi) {
          served++;
          correct += rec.correct[j];
        }
      }
      assert.equal([ts.arrived[i], ts.lost[i], ts.served[i], ts.correct[i]], [arrived, lost, served, correct], `${r.metrics.policy}: interval ${i}`);
    }
    const lossIn = (from: number, to: number) => {
      let a = 0;
      let l = 0;
      ts.timeMs.forEach((t, i) => {
        if (t > from * cost[K - 1] && t <= to * cost[K - 1]) {
          a += ts.arrived[i];
          l += ts.lost[i];
        }
      });
      return l / a;
    };
    // Light phase: (almost) no losses; overload phase: losses.
    assert.ok(lossIn(0, 2000) < 0.02, `${r.metrics.policy}: light-phase loss ${lossIn(0, 2000)}`);
    assert.ok(lossIn(2000, 4000) > lossIn(0, 2000) + 0.01, `${r.metrics.policy}: overload-phase loss ${lossIn(2000, 4000)}`);
  }
});

s.run();
