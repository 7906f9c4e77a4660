import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { simulate, type JitterConfig, type QueueConfig } from '../lib/queue.ts';
import { makeArrivals, burstyArrivals, meanRate, type ArrivalConfig } from '../lib/arrivals.ts';
import { mm1kLoss, mm1kMeanInSystem } from '../policies/mg1k.ts';
import { scoreTrace } from '../lib/scores.ts';
import { syntheticTrace } from '../lib/synthetic.ts';
import { modelInfo, type Policy, type SystemState } from '../lib/policy.ts';
import { Rng } from '../lib/random.ts';
import { InputError } from '../lib/errors.ts';
import { fixedExit, modelBased, rateBased, reactive, threshold } from '../policies/index.ts';
import { loadPolicy } from '../lib/registry.ts';

await loadPolicy(modelBased); // the HiGHS wasm loads on first use only

const s = suite('queue');
const dir = mkdtempSync(join(tmpdir(), 'exitlab-q-'));
s.after(() => rmSync(dir, { recursive: true, force: true }));
const scored = scoreTrace(syntheticTrace({ nSamples: 500, nExits: 4, seed: 21 }));
const ctx = () => ({ rng: new Rng(1), model: modelInfo(scored) });
const lastExit = () => fixedExit.create({ exit: -1 }, ctx());

// Two-sided 99% Student t quantile for 9 degrees of freedom.
const T99_9 = 3.25;

s('M/M/1/K: simulated loss and mean number in system fall inside their 99% confidence intervals', () => {
  const cost = scored.trace.costMs[3];
  for (const B of [5, 10]) {
    for (const rho of [0.5, 0.9, 1.0, 1.5]) {
      const K = B + 1;
      const loss: number[] = [];
      const L: number[] = [];
      for (let r = 0; r < 10; r++) {
        const m = simulate(lastExit(), scored, {
          bufferCapacity: B,
          arrivals: { kind: 'poisson', ratePerMs: rho / cost },
          maxArrivals: 20000,
          jitter: { kind: 'exponential' },
          seed: 1000 * B + 100 * rho + r,
        }).metrics;
        loss.push(m.lossRatio);
        L.push(m.meanInSystem);
      }
      for (const [name, xs, exact] of [['loss', loss, mm1kLoss(rho, K)], ['L', L, mm1kMeanInSystem(rho, K)]] as const) {
        const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
        const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
        const half = (T99_9 * sd) / Math.sqrt(xs.length);
        assert.ok(Math.abs(mean - exact) <= half, `B=${B} ρ=${rho} ${name}: simulated ${mean.toFixed(5)} ± ${half.toFixed(5)}, exact ${exact.toFixed(5)}`);
      }
    }
  }
});

const arbArrivals: fc.Arbitrary<ArrivalConfig> = fc.oneof(
  fc.double({ min: 0.05, max: 2, noNaN: true }).map((r) => ({ kind: 'poisson' as const, ratePerMs: r })),
  fc.double({ min: 0.05, max: 2, noNaN: true }).map((r) => burstyArrivals(r, { cycleMs: 50 })),
  fc.double({ min: 0.3, max: 6, noNaN: true }).map((d) => ({ kind: 'deterministic' as const, intervalMs: d })),
);
const arbJitter: fc.Arbitrary<JitterConfig> = fc.constantFrom<JitterConfig>({ kind: 'none' }, { kind: 'exponential' }, { kind: 'lognormal', cv: 0.5 });
const fitted = (p: Policy): Policy => (p.fit?.(scored, {}), p);
const policies: (() => Policy)[] = [
  lastExit,
  () => fixedExit.create({ exit: 0 }, ctx()),
  () => threshold.create({ score: 'maxprob', thresholds: 0.7 }, ctx()),
  () => reactive.create({ startExit: -1 }, ctx()),
  // The two schedulers that read the arrival-rate estimate and the backlog, profiled on the same trace.
  () => fitted(modelBased.create(modelBased.parse({}), ctx())),
  () => fitted(rateBased.create(rateBased.parse({}), ctx())),
];

s('properties: conservation at every horizon, buffer bound, FIFO, ordered event times, same seed same records', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 6 }),
      arbArrivals,
      arbJitter,
      fc.integer({ min: 0, max: policies.length - 1 }),
      fc.double({ min: 1, max: 400, noNaN: true }),
      fc.integer({ min: 0, max: 1e6 }),
      (B, arrivals, jitter, pi, horizonMs, seed) => {
        const cfg: QueueConfig = { bufferCapacity: B, arrivals, jitter, horizonMs, records: true, seed };
        const r = simulate(policies[pi](), scored, cfg);
        const m = r.metrics;
        const rec = r.records!;
        assert.is(m.arrivals, m.served + m.lost + m.inSystemAtEnd);
        assert.is(rec.arrivalMs.length, m.arrivals);
        assert.ok(m.maxQueue <= B);
        let lastStart = -Infinity;
        let lastEnd = -Infinity;
        for (let i = 0; i < rec.arrivalMs.length; i++) {
          assert.ok(rec.queueAtArrival[i] <= B);
          if (i > 0) assert.ok(rec.arrivalMs[i] >= rec.arrivalMs[i - 1], 'arrival times decrease');
          if (rec.lost[i]) {
            assert.is(rec.queueAtArrival[i], B, 'a job was lost with free places');
            continue;
          }
          if (Number.isNaN(rec.startMs[i])) continue; // still waiting at the horizon
          // FIFO: jobs start in arrival order, each after the previous one left, and not before it arrived.
          assert.ok(rec.startMs[i] >= rec.arrivalMs[i]);
          assert.ok(rec.startMs[i] >= lastStart && rec.startMs[i] >= lastEnd - 1e-9, 'service order is not FIFO');
          lastStart = rec.startMs[i];
          if (!Number.isNaN(rec.endMs[i])) {
            assert.ok(rec.endMs[i] >= rec.startMs[i]);
            lastEnd = rec.endMs[i];
          }
        }
        assert.ok(m.elapsedMs <= horizonMs + 1e-9 || m.inSystemAtEnd === 0);
        const again = simulate(policies[pi](), scored, cfg);
        const columns = Object.keys(rec) as (keyof typeof rec)[];
        assert.ok(columns.length >= 6);
        for (const col of columns) assert.equal(Array.from(again.records![col] as ArrayLike<number>), Array.from(rec[col] as ArrayLike<number>), `records.${col} differ for the same seed`);
        assert.equal(again.metrics, m);
      },
    ),
    { numRuns: 150 },
  );
});

s('drained runs serve or lose every arrival; deterministic service takes exactly the exit cost', () => {
  const pol = threshold.create({ score: 'maxprob', thresholds: 0.8 }, ctx());
  const r = simulate(pol, scored, { bufferCapacity: 3, arrivals: { kind: 'poisson', ratePerMs: 0.3 }, maxArrivals: 3000, records: true, seed: 4 });
  assert.is(r.metrics.inSystemAtEnd, 0);
  assert.is(r.metrics.served + r.metrics.lost, 3000);
  const rec = r.records!;
  for (let i = 0; i < rec.exit.length; i++) {
    if (rec.lost[i]) continue;
    assert.ok(Math.abs(rec.endMs[i] - rec.startMs[i] - scored.trace.costMs[rec.exit[i]]) < 1e-9);
    assert.is(rec.correct[i], scored.scores.correct[rec.sample[i] * 4 + rec.exit[i]]);
  }
  const served = rec.exit.filter((e) => e >= 0).length;
  r.metrics.exitShares.forEach((sh, k) => assert.ok(Math.abs(sh - rec.exit.filter((e) => e === k).length / served) < 1e-12));
});

s('commit sees the queue length, B and a sliding-window arrival-rate estimate', () => {
  const seen: SystemState[] = [];
  const spy: Policy = { name: 'spy', commit: (st) => (seen.push(st), 3) };
  simulate(spy, scored, { bufferCapacity: 4, arrivals: { kind: 'deterministic', intervalMs: 2 }, maxArrivals: 50, seed: 1 });
  assert.is(seen[0].arrivalRatePerMs, undefined);
  assert.ok(seen.every((st) => st.bufferCapacity === 4 && st.queueLength >= 0 && st.queueLength <= 4));
  assert.ok(Math.abs(seen[seen.length - 1].arrivalRatePerMs! - 0.5) < 1e-12);
  // Service (4.1 ms) is slower than arrivals (every 2 ms): the buffer fills; a job starts right after one left
  // the full buffer, so the largest backlog a commit sees is B − 1 = 3.
  assert.is(Math.max(...seen.map((st) => st.queueLength)), 3);
});

s('loss events reach a sequential policy during service, before its next decision', () => {
  // Arrivals every 0.2 ms, no buffer: every arrival during a service is lost. The policy continues until it has
  // heard of a loss during the current job, then exits.
  let lossesThisJob = 0;
  const pol: Policy = {
    name: 'exit-after-loss',
    decide: () => (lossesThisJob > 0 ? 'exit' : 'continue'),
    observe: () => {
      lossesThisJob = 0;
    },
    onEvent: (e) => {
      if (e.kind === 'loss') lossesThisJob++;
    },
  };
  const r = simulate(pol, scored, { bufferCapacity: 0, arrivals: { kind: 'deterministic', intervalMs: 0.2 }, maxArrivals: 2000, records: true, seed: 1 });
  // Exit 0 takes 1.1 ms, during which ~5 arrivals are lost, so every job leaves at its first decision (exit 0).
  // Were losses delivered only after the job, the policy would hear of none while deciding and run to exit 3.
  assert.ok(r.metrics.exitShares[0] > 0.99, `exit shares ${r.metrics.exitShares}`);
  assert.ok(r.metrics.lost > 0);
});

s('reactive scheduler: loss → one exit earlier, idle → one later, within [0, K−1]', () => {
  const p = reactive.create({ startExit: -1 }, ctx());
  const st: SystemState = { timeMs: 0, queueLength: 0, bufferCapacity: 5, arrivalRatePerMs: 1 };
  assert.is(p.commit!(st), 3);
  p.onEvent!({ kind: 'idle', timeMs: 0 });
  assert.is(p.commit!(st), 3);
  for (let i = 0; i < 5; i++) p.onEvent!({ kind: 'loss', timeMs: 0, queueLength: 5 });
  assert.is(p.commit!(st), 0);
  p.onEvent!({ kind: 'idle', timeMs: 1 });
  assert.is(p.commit!(st), 1);
});

s('arrival processes: Poisson and MMPP2 long-run rates match their configs', () => {
  for (const cfg of [{ kind: 'poisson', ratePerMs: 0.7 } as const, burstyArrivals(0.7)]) {
    const proc = makeArrivals(cfg, new Rng(3));
    let t = 0;
    const n = 200000;
    for (let i = 0; i < n; i++) t = proc.next();
    assert.ok(Math.abs(n / t / meanRate(cfg) - 1) < 0.03, `${cfg.kind}: ${n / t} vs ${meanRate(cfg)}`);
  }
});

s('replay arrivals from a text file and from inline times; malformed files name the line', () => {
  const good = join(dir, 'times.txt');
  writeFileSync(good, '# ms\n0.5\n1.0\n1.0\n7\n');
  const r = simulate(lastExit(), scored, { bufferCapacity: 0, arrivals: { kind: 'replay', file: good }, maxArrivals: 100, records: true, seed: 1 });
  assert.equal(Array.from(r.records!.arrivalMs), [0.5, 1, 1, 7]);
  assert.equal(Array.from(r.records!.lost), [0, 1, 1, 0]);
  const bad = join(dir, 'bad.txt');
  writeFileSync(bad, '1\n3\n2\n');
  assert.throws(() => makeArrivals({ kind: 'replay', file: bad }, new Rng(1)), (e: unknown) => e instanceof InputError && /bad\.txt: line 3: expected a time ≥ the previous one/.test((e as Error).message));
  writeFileSync(bad, '1\nabc\n');
  assert.throws(() => makeArrivals({ kind: 'replay', file: bad }, new Rng(1)), (e: unknown) => e instanceof InputError && /line 2: expected one timestamp in ms per line/.test((e as Error).message));
  assert.throws(() => makeArrivals({ kind: 'replay', file: join(dir, 'nope.txt') }, new Rng(1)), (e: unknown) => e instanceof InputError && /ENOENT/.test((e as Error).message));
});

s('bad configs are InputErrors naming the field', () => {
  const base: QueueConfig = { bufferCapacity: 2, arrivals: { kind: 'poisson', ratePerMs: 1 }, maxArrivals: 10, seed: 1 };
  const cases: [Partial<Record<keyof QueueConfig, unknown>>, RegExp][] = [
    [{ bufferCapacity: -1 }, /bufferCapacity: expected an integer ≥ 0/],
    [{ bufferCapacity: 1.5 }, /bufferCapacity/],
    [{ maxArrivals: undefined }, /maxArrivals\/horizonMs: expected at least one stopping rule/],
    [{ arrivals: { kind: 'poisson', ratePerMs: -2 } }, /ratePerMs: expected a positive finite number/],
    [{ arrivals: { kind: 'gamma' } }, /kind: expected "poisson", "mmpp2", "deterministic" or "replay"/],
    [{ jitter: { kind: 'lognormal', cv: NaN } }, /jitter\.cv/],
    [{ sampling: 'random' }, /sampling: expected "uniform" or "permutation"/],
  ];
  for (const [patch, re] of cases) {
    assert.throws(() => simulate(lastExit(), scored, { ...base, ...patch } as QueueConfig), (e: unknown) => e instanceof InputError && re.test((e as Error).message), JSON.stringify(patch));
  }
});

s('permutation sampling visits every sample once per pass', () => {
  const r = simulate(lastExit(), scored, { bufferCapacity: 1000, arrivals: { kind: 'deterministic', intervalMs: 100 }, maxArrivals: 1000, sampling: 'permutation', records: true, seed: 2 });
  const first = Array.from(r.records!.sample.subarray(0, 500)).sort((a, b) => a - b);
  assert.equal(first, Array.from({ length: 500 }, (_, i) => i));
});

s('time series samples queue length and recent exit shares at the requested interval', () => {
  const r = simulate(threshold.create({ score: 'maxprob', thresholds: 0.8 }, ctx()), scored, {
    bufferCapacity: 5,
    arrivals: { kind: 'poisson', ratePerMs: 0.3 },
    horizonMs: 1000,
    timeSeriesEveryMs: 100,
    seed: 3,
  });
  const ts = r.timeSeries!;
  assert.equal(ts.timeMs, [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
  assert.ok(ts.inSystem.every((n) => n >= 0 && n <= 6));
  assert.ok(ts.exitShares.every((sh) => sh.length === 4 && (Math.abs(sh.reduce((a, b) => a + b, 0) - 1) < 1e-9 || sh.every((x) => x === 0))));
  // A threshold policy has no distribution of its own to report.
  assert.equal(ts.policyExitShares, []);
});

s("time series samples the schedulers' own current exit distribution, and it follows the load", () => {
  const cost = scored.trace.costMs[3];
  // Light load for the first half, 3x overload for the second: every scheduler must move mass to earlier exits.
  const arrivals: ArrivalConfig = { kind: 'replay', timesMs: [...Array.from({ length: 200 }, (_, i) => i * 4 * cost), ...Array.from({ length: 1200 }, (_, i) => 800 * cost + (i * cost) / 3)] };
  const meanExit = (d: readonly number[]) => d.reduce((a, p, k) => a + p * k, 0);
  for (const make of [() => reactive.create({ startExit: -1 }, ctx()), () => fitted(modelBased.create(modelBased.parse({}), ctx())), () => fitted(rateBased.create(rateBased.parse({}), ctx()))]) {
    const r = simulate(make(), scored, { bufferCapacity: 5, arrivals, maxArrivals: 1400, timeSeriesEveryMs: 100 * cost, seed: 4 });
    const ts = r.timeSeries!;
    const name = r.metrics.policy;
    assert.is(ts.policyExitShares.length, ts.timeMs.length, name);
    const dists = ts.policyExitShares.filter((d): d is number[] => d !== null);
    assert.ok(dists.every((d) => d.length === 4 && Math.abs(d.reduce((a, b) => a + b, 0) - 1) < 1e-9 && d.every((p) => p >= 0)), `${name}: not distributions`);
    const at = (tMs: number) => meanExit(ts.policyExitShares[ts.timeMs.findIndex((t) => t >= tMs)]!);
    assert.ok(at(1050 * cost) < at(650 * cost), `${name}: mean exit under overload ${at(1050 * cost)} not below light load ${at(650 * cost)}`);
  }
});

s.run();
