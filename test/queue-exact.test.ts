/**
 * The queue simulator against exact values, with a warm-up: M/D/1/K (deterministic service, a fixed exit without
 * jitter), solved here through the embedded Markov chain at departures (Gross & Harris, "Fundamentals of Queueing
 * Theory", §5.1.8, M/G/1/K): states 0..K−1 left behind by a departure, a_j = P(j Poisson arrivals in one service)
 * = e^{−ρ} ρ^j / j!; then the time-average distribution p_n = π_n / (π_0 + ρ) for n < K and p_K = 1 − 1/(π_0 + ρ).
 * Loss = p_K (PASTA), L = Σ n p_n, mean response W = L / (λ(1 − p_K)) (Little).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { simulate } from '../lib/queue.ts';
import { modelInfo } from '../lib/policy.ts';
import { Rng } from '../lib/random.ts';
import { scoreTrace } from '../lib/scores.ts';
import { syntheticTrace } from '../lib/synthetic.ts';
import { fixedExit } from '../policies/index.ts';

const s = suite('queue-exact');
const scored = scoreTrace(syntheticTrace({ nSamples: 200, nExits: 4, seed: 21 }));

/** Exact M/D/1/K: loss probability, mean number in system L, mean response time W in units of the service time. */
export function md1k(rho: number, K: number): { loss: number; L: number; W: number } {
  const a: number[] = [];
  let term = Math.exp(-rho);
  for (let j = 0; j <= K; j++) {
    a.push(term);
    term *= rho / (j + 1);
  }
  // Transition matrix of the chain at departures, states 0..K−1 (K − 1 = full after the departure left).
  const n = K;
  const P = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    const base = Math.max(i - 1, 0); // the departing job leaves i − 1 behind, plus the arrivals during its service
    let rest = 1;
    for (let k = base; k < n - 1; k++) {
      P[i][k] = a[k - base];
      rest -= a[k - base];
    }
    P[i][n - 1] += rest;
  }
  // Solve π(P − I) = 0 with Σ π = 1: Gaussian elimination with partial pivoting on the transposed system, the
  // last balance equation replaced by the normalisation.
  const A = Array.from({ length: n }, (_, r) => Array.from({ length: n + 1 }, (_, c) => (c === n ? 0 : P[c][r] - (r === c ? 1 : 0))));
  A[n - 1] = Array.from({ length: n + 1 }, () => 1);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(A[r][c]) > Math.abs(A[piv][c])) piv = r;
    [A[c], A[piv]] = [A[piv], A[c]];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = A[r][c] / A[c][c];
      for (let k = c; k <= n; k++) A[r][k] -= f * A[c][k];
    }
  }
  const pi = A.map((row, r) => row[n] / row[r]);
  const z = pi[0] + rho;
  const p = [...pi.map((x) => x / z), 1 - 1 / z];
  const L = p.reduce((acc, x, k) => acc + k * x, 0);
  return { loss: p[K], L, W: L / (rho * (1 - p[K])) };
}

s('the solver reproduces known M/D/1/K facts: K = 1 is Erlang loss, and loss falls with K below saturation', () => {
  // K = 1 (no buffer): loss = ρ/(1 + ρ) whatever the service distribution (Erlang B with one server).
  for (const rho of [0.3, 1, 2.5]) assert.ok(Math.abs(md1k(rho, 1).loss - rho / (1 + rho)) < 1e-12);
  // ρ = 1, large K: M/D/1 loss is below M/M/1's 1/(K + 1) (less variable service).
  assert.ok(md1k(1, 21).loss < 1 / 22);
  // Overload: throughput → μ, so loss → 1 − 1/ρ.
  assert.ok(Math.abs(md1k(3, 40).loss - 2 / 3) < 1e-6);
  let prev = 1;
  for (const K of [2, 4, 8, 16]) {
    const l = md1k(0.8, K).loss;
    assert.ok(l < prev);
    prev = l;
  }
});

// Two-sided 99% Student t quantile for 9 degrees of freedom.
const T99_9 = 3.25;

s('M/D/1/K with warm-up: loss, mean number in system and mean response inside 99% intervals of 10 × 100,000 arrivals', () => {
  const cost = scored.trace.costMs[3];
  const plain = () => fixedExit.create({ exit: -1 }, { rng: new Rng(1), model: modelInfo(scored) });
  for (const B of [5, 20]) {
    for (const rho of [0.5, 1, 3]) {
      const K = B + 1;
      const exact = md1k(rho, K);
      const lambda = rho / cost;
      const xs = { loss: [] as number[], L: [] as number[], W: [] as number[] };
      for (let r = 0; r < 10; r++) {
        // A horizon (no drain): time averages over a stationary stretch, not the emptying tail after arrivals stop.
        const m = simulate(plain(), scored, {
          bufferCapacity: B,
          arrivals: { kind: 'poisson', ratePerMs: lambda },
          horizonMs: 105000 / lambda,
          warmup: { arrivals: 5000 },
          seed: 7000 + 100 * B + 10 * rho + r,
        }).metrics;
        xs.loss.push(m.lossRatio);
        xs.L.push(m.meanInSystem);
        xs.W.push(m.meanResponseMs / cost);
      }
      for (const name of ['loss', 'L', 'W'] as const) {
        const v = xs[name];
        const mean = v.reduce((a, b) => a + b, 0) / v.length;
        const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1));
        const half = (T99_9 * sd) / Math.sqrt(v.length);
        const label = `B=${B} ρ=${rho} ${name}: simulated ${mean.toFixed(6)} ± ${half.toFixed(6)}, exact ${exact[name].toFixed(6)}`;
        // 1e-6 absorbs the case where the exact loss is ~0 and no replication lost a job (a zero-width interval).
        assert.ok(Math.abs(mean - exact[name]) <= half + 1e-6, label);
        // Narrow enough to be a test: within 3% of the value (0.002 absolute for a loss near 0). The widest is L at
        // ρ = 1, B = 20 (≈ 2.3%), where the queue length wanders over the whole buffer; the rest are below 0.7%.
        assert.ok(half <= Math.max(0.03 * exact[name], 0.002), `${label}: interval too wide to be a test`);
      }
    }
  }
});

s.run();
