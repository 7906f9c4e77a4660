/**
 * DEE (policies/dee.ts) and the bandit baselines in the online harness: regret falls on a stationary stream
 * (over several seeds), the two limits of β are learnt (run to the end when later exits are at least as confident
 * and cost is free; leave at the first exit when cost dominates), determinism, decisions only at exits 0..K−2,
 * no reads of exits not run, and parameter errors naming the parameter.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { InputError } from '../lib/errors.ts';
import { runOnline, stationaryStream } from '../lib/online.ts';
import { modelInfo, type ExitView, type Policy } from '../lib/policy.ts';
import { Rng } from '../lib/random.ts';
import type { RawParams } from '../lib/registry.ts';
import { scoreTrace, type ScoredTrace } from '../lib/scores.ts';
import { syntheticTrace } from '../lib/synthetic.ts';
import { ExitTrace } from '../lib/trace.ts';
import { getPolicySpec } from '../policies/index.ts';
import { simulate } from '../lib/queue.ts';

const s = suite('dee');
const ONLINE = ['dee', 'tuned-threshold', 'lee-ucb', 'adaee-ucb', 'egreedy-context'] as const;

function make(name: string, raw: RawParams, scored: ScoredTrace, seed = 1): Policy {
  const spec = getPolicySpec(name);
  const p = spec.create(spec.parse(raw), { rng: new Rng(seed), model: modelInfo(scored) });
  p.fit?.(scored, {});
  return p;
}

/** A trace whose confidence never falls with depth: exit m puts mass w_m ≥ w_{m−1} on the sample's class. */
function monotoneTrace(N: number, K: number, C: number, seed: number): ExitTrace {
  const rng = new Rng(seed);
  const probs = new Float32Array(N * K * C);
  const labels = new Int32Array(N);
  for (let n = 0; n < N; n++) {
    const y = rng.int(C);
    labels[n] = y;
    let w = 0.1 + 0.5 * rng.float();
    for (let m = 0; m < K; m++) {
      w = Math.min(1, w + 0.3 * rng.float()); // non-decreasing in m
      const base = (n * K + m) * C;
      for (let c = 0; c < C; c++) probs[base + c] = (1 - w) / C + (c === y ? w : 0);
    }
  }
  return new ExitTrace({ nSamples: N, nExits: K, nClasses: C, probs, labels, costMs: Array.from({ length: K }, (_, m) => m + 1), provenance: { model: 'monotone', dataset: 'test', split: 'test' } });
}

s('stationary stream: DEE’s per-input regret against the hindsight rule falls (every one of 5 seeds)', () => {
  const firsts: number[] = [];
  const lasts: number[] = [];
  for (let seed = 1; seed <= 5; seed++) {
    const scored = scoreTrace(syntheticTrace({ nSamples: 4000, nExits: 4, nClasses: 10, seed: 100 + seed }));
    const r = runOnline(make('dee', { beta: 0.3 }, scored, seed), stationaryStream(scored, 40000, seed), { reward: { score: 'maxprob', beta: 0.3 }, checkpoints: 8 });
    const w = r.checkpoints.map((c) => c.windowRegretHindsight);
    firsts.push(w[0]);
    lasts.push(w[w.length - 1]);
    // Falls: the last window is well below the first, and the second half below the first half.
    assert.ok(w[w.length - 1] < 0.5 * w[0], `seed ${seed}: windows ${w.map((x) => x.toFixed(4)).join(' ')}`);
    const half = (a: number[]) => a.reduce((x, y) => x + y, 0);
    assert.ok(half(w.slice(4)) < half(w.slice(0, 4)), `seed ${seed}: second half not below the first`);
    // And the oracle regret falls too (it cannot reach 0: the oracle knows later exits).
    assert.ok(r.checkpoints[7].windowRegretOracle < r.checkpoints[0].windowRegretOracle);
  }
  assert.ok(Math.max(...lasts) < 0.02, `last-window regrets ${lasts.map((x) => x.toFixed(4)).join(' ')}`);
});

s('β = 0 and later exits at least as confident: DEE learns to run to the end', () => {
  for (const seed of [1, 2, 3]) {
    const scored = scoreTrace(monotoneTrace(1000, 4, 5, seed));
    const r = runOnline(make('dee', { beta: 0 }, scored, seed), stationaryStream(scored, 20000, seed), { reward: { score: 'maxprob', beta: 0 }, records: true, checkpoints: 4 });
    const exits = r.records!.exit.subarray(15000);
    const atEnd = exits.filter((e) => e === 3).length / exits.length;
    assert.ok(atEnd >= 0.99, `seed ${seed}: only ${atEnd} of the last 5000 inputs ran to the end`);
  }
});

s('large β: DEE learns to leave at the first exit', () => {
  for (const seed of [1, 2, 3]) {
    const scored = scoreTrace(syntheticTrace({ nSamples: 2000, nExits: 4, nClasses: 10, seed }));
    const r = runOnline(make('dee', { beta: 5 }, scored, seed), stationaryStream(scored, 20000, seed), { reward: { score: 'maxprob', beta: 5 }, records: true, checkpoints: 4 });
    const exits = r.records!.exit.subarray(15000);
    const first = exits.filter((e) => e === 0).length / exits.length;
    assert.ok(first >= 0.99, `seed ${seed}: only ${first} of the last 5000 inputs left at exit 0`);
  }
});

s('determinism: the same seeds give the same decisions, for DEE and every baseline', () => {
  const scored = scoreTrace(syntheticTrace({ nSamples: 800, nExits: 5, nClasses: 6, seed: 9 }));
  for (const name of ONLINE) {
    const run = () => runOnline(make(name, { beta: 0.2 }, scored, 4), stationaryStream(scored, 5000, 2), { reward: { score: 'maxprob', beta: 0.2 }, records: true }).records!.exit;
    assert.equal(Array.from(run()), Array.from(run()), name);
  }
});

s('decisions only at exits 0..K−2, and no policy reads an exit it has not run (recorded even if caught)', () => {
  const scored = scoreTrace(syntheticTrace({ nSamples: 500, nExits: 5, nClasses: 4, seed: 21 }));
  const K = 5;
  for (const name of ONLINE) {
    for (const beta of [0, 0.3, 4]) {
      const inner = make(name, { beta }, scored, 3);
      const problems: string[] = [];
      const guard = (v: ExitView): ExitView => {
        const check = (at: number | undefined) => {
          if (at !== undefined && at > v.exit) problems.push(`read exit ${at} after exits 0..${v.exit}`);
        };
        return {
          get exit() {
            return v.exit;
          },
          nExits: v.nExits,
          nClasses: v.nClasses,
          score: (n, at) => (check(at), v.score(n, at)),
          predicted: (at) => (check(at), v.predicted(at)),
          probs: (at) => (check(at), v.probs(at)),
        };
      };
      const wrapped: Policy = {
        name: inner.name,
        commit: inner.commit?.bind(inner),
        decide: inner.decide
          ? (v) => {
              if (!(v.exit >= 0 && v.exit <= K - 2)) problems.push(`asked at exit ${v.exit}`);
              const d = inner.decide!(guard(v));
              if (d !== 'exit' && d !== 'continue') problems.push(`decision ${String(d)}`);
              return d;
            }
          : undefined,
        observe: inner.observe ? (fb) => inner.observe!({ ...fb, view: guard(fb.view) }) : undefined,
      };
      runOnline(wrapped, stationaryStream(scored, 3000, 5), { reward: { score: 'maxprob', beta }, checkpoints: 2 });
      assert.equal(problems, [], `${name} β=${beta}`);
    }
  }
});

s('the online learners run inside the queue simulator (jittered costs, losses) deterministically', () => {
  const scored = scoreTrace(syntheticTrace({ nSamples: 400, nExits: 4, nClasses: 5, seed: 31 }));
  const config = { bufferCapacity: 5, arrivals: { kind: 'poisson' as const, ratePerMs: 0.5 }, maxArrivals: 3000, jitter: { kind: 'exponential' as const }, seed: 3 };
  for (const name of ONLINE) {
    const a = simulate(make(name, { beta: 0.2 }, scored, 2), scored, config).metrics;
    const b = simulate(make(name, { beta: 0.2 }, scored, 2), scored, config).metrics;
    assert.ok(a.served > 0 && a.served + a.lost + a.inSystemAtEnd === a.arrivals, name);
    assert.equal(a, b, `${name}: not deterministic in the simulator`);
  }
});

s('bad parameters throw InputError naming the parameter', () => {
  const scored = scoreTrace(syntheticTrace({ nSamples: 20, nExits: 3, nClasses: 3, seed: 1 }));
  const cases: [string, RawParams, string][] = [
    ['dee', { beta: -1 }, 'params.beta'],
    ['dee', { bins: 1 }, 'params.bins'],
    ['dee', { binScale: 'log' }, 'params.binScale'],
    ['dee', { exploration: -0.1 }, 'params.exploration'],
    ['dee', { forgetting: 0 }, 'params.forgetting'],
    ['dee', { propagate: 'yes' }, 'params.propagate'],
    ['dee', { explore: 1 }, 'params.explore'],
    ['dee', { score: 'nope' }, 'params.score'],
    ['tuned-threshold', { gridSize: 1 }, 'params.gridSize'],
    ['lee-ucb', { exploration: 'big' }, 'params.exploration'],
    ['adaee-ucb', { thresholds: [] }, 'params.thresholds'],
    ['adaee-ucb', { thresholds: [[0.5, 0.5, 0.5]] }, 'params.thresholds[0]'],
    ['egreedy-context', { epsilon: 2 }, 'params.epsilon'],
  ];
  for (const [name, raw, field] of cases) {
    assert.throws(() => make(name, raw, scored), (e: unknown) => e instanceof InputError && e.field === field, `${name} ${JSON.stringify(raw)}`);
  }
});

s.run();
