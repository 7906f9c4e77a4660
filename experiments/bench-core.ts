/**
 * Benchmark of the evaluation core, doing exactly the work of the numpy yardstick (`ref_sweep.py`, kept outside
 * the repository in `../shared/bench/`): N samples in all, N/2 to fit and N/2 to evaluate, K exits, C classes,
 * synthetic data of the yardstick's shape (uniform labels, a uniform difficulty d per sample, standard normal
 * logits with the true class raised by linspace(0.5, 4, K)_k · (1.2 − d), softmax; exit costs linspace(1, K, K)),
 * then a sweep of budgeted max-prob (MSDNet's rule: geometric shares for the budget, thresholds by selection on
 * the fitting split, "first k with maxprob_k ≥ t_k" on the evaluation split) over budgets evenly spaced from the
 * first exit's cost to the last's. Each budget goes through the offline harness as an experiment would
 * (`budgetSweep`: create, fit, run — the columnar path —, summarise), so the figure is the harness's, not a
 * hand-written loop's. The one sort per exit of the fitting scores (`ThresholdCalibrator`) happens in the first
 * budget's fit and is inside the sweep time.
 *
 * Then, in the same run, the numpy reference on the same sizes (`python3 ref_sweep.py N K C BUDGETS`, the
 * interpreter of its shebang, Debian's python3-numpy), and both figures side by side: sample·budgets/s
 * (N · budgets / sweep seconds, as the reference counts) and ms per budget, with the ratio; `--rounds R`
 * alternates ours and the reference R times and quotes medians. Also the score table time (ours: every built-in
 * score, argmax and correctness on both splits; the reference: maxprob on both splits, argmax and correctness on
 * the evaluation split) and our peak RSS. The reference is skipped with a note when its file or numpy is missing.
 * Numbers, not assertions.
 *
 * Usage: tsx experiments/bench-core.ts [--samples 1000000] [--exits 8] [--classes 10] [--budgets 100]
 *        [--rounds 1] [--reference PATH | --no-reference] [--python /usr/bin/python3]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { budgetGrid, budgetSweep, type PolicyResult } from '../lib/offline.ts';
import { Rng } from '../lib/random.ts';
import { computeScores, type ScoredTrace } from '../lib/scores.ts';
import { ExitTrace } from '../lib/trace.ts';
import { budgetedThreshold } from '../policies/budgeted-threshold.ts';

const { values } = parseArgs({
  options: {
    samples: { type: 'string', default: '1000000' },
    exits: { type: 'string', default: '8' },
    classes: { type: 'string', default: '10' },
    budgets: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '1' },
    reference: { type: 'string' },
    'no-reference': { type: 'boolean', default: false },
    python: { type: 'string' },
  },
});
const N = Number(values.samples);
const K = Number(values.exits);
const C = Number(values.classes);
const nBudgets = Number(values.budgets);
const rounds = Number(values.rounds);
for (const [name, v, min] of [['samples', N, 2], ['exits', K, 2], ['classes', C, 2], ['budgets', nBudgets, 2], ['rounds', rounds, 1]] as const) {
  if (!Number.isSafeInteger(v) || v < min) throw new Error(`bench-core: --${name} must be an integer ≥ ${min}, got ${v}`);
}
const half = Math.floor(N / 2);

const seconds = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const g = (x: number) => x.toPrecision(3);

/** The yardstick's synthetic split (`synth` in ref_sweep.py), drawn from our own seeded generator. */
function yardstickSplit(n: number, rng: Rng, split: string): ExitTrace {
  const probs = new Float32Array(n * K * C);
  const labels = new Int32Array(n);
  const logits = new Float64Array(C);
  const slope = Array.from({ length: K }, (_, k) => 0.5 + ((4.0 - 0.5) * k) / (K - 1));
  for (let i = 0; i < n; i++) {
    const y = rng.int(C);
    labels[i] = y;
    const d = rng.float();
    for (let k = 0; k < K; k++) {
      for (let c = 0; c < C; c++) logits[c] = rng.normal();
      logits[y] += slope[k] * (1.2 - d);
      let m = -Infinity;
      for (let c = 0; c < C; c++) if (logits[c] > m) m = logits[c];
      let z = 0;
      for (let c = 0; c < C; c++) z += logits[c] = Math.exp(logits[c] - m);
      const base = (i * K + k) * C;
      for (let c = 0; c < C; c++) probs[base + c] = logits[c] / z;
    }
  }
  const costMs = Array.from({ length: K }, (_, k) => 1 + ((K - 1) * k) / (K - 1));
  return new ExitTrace({ nSamples: n, nExits: K, nClasses: C, probs, labels, costMs, provenance: { model: `yardstick-k${K}-c${C}`, dataset: 'bench-core', split } });
}

/** Where the reference lives: ../shared/bench/ref_sweep.py next to this checkout, or next to the main checkout of a worktree. */
function findReference(): string | undefined {
  if (values.reference !== undefined) return existsSync(values.reference) ? values.reference : undefined;
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const candidates = [resolve(repo, '../shared/bench/ref_sweep.py')];
  try {
    const common = execFileSync('git', ['rev-parse', '--path-format=absolute', '--git-common-dir'], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    candidates.push(resolve(dirname(common), '../shared/bench/ref_sweep.py'));
  } catch {
    // not a git checkout (an installed package): only the first candidate
  }
  return candidates.find((p) => existsSync(p));
}

interface RefRun {
  readonly scoresSec: number;
  readonly sweepSec: number;
  readonly line: string;
}

function runReference(python: string, script: string): RefRun {
  const r = spawnSync(python, [script, String(N), String(K), String(C), String(nBudgets)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`reference failed (exit ${r.status}): ${r.stderr}`);
  const m = /scores ([\d.]+)s sweep\(\d+\) ([\d.]+)s/.exec(r.stdout);
  if (!m) throw new Error(`reference printed something unexpected: ${r.stdout}`);
  return { scoresSec: Number(m[1]), sweepSec: Number(m[2]), line: r.stdout.trim().replace(/\n/g, ' | ') };
}

console.log(
  `bench-core: N = ${N} samples (${half} to fit, ${half} to evaluate), K = ${K}, C = ${C}, ${nBudgets} budgets of budgeted max-prob ` +
    `(MSDNet's rule) through the offline harness; ${rounds} round(s); node ${process.version}`,
);
let t0 = process.hrtime.bigint();
const rng = new Rng(0);
const validation = yardstickSplit(half, rng.fork('fit'), 'fit');
const test = yardstickSplit(half, rng.fork('evaluate'), 'evaluate');
console.log(`generate both splits: ${seconds(t0).toFixed(2)} s`);

const scoreSecs: number[] = [];
let vs!: ScoredTrace;
let ts!: ScoredTrace;
for (let r = 0; r < rounds; r++) {
  t0 = process.hrtime.bigint();
  vs = { trace: validation, scores: computeScores(validation) };
  ts = { trace: test, scores: computeScores(test) };
  scoreSecs.push(seconds(t0));
}

let python = values.python ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const script = values['no-reference'] ? undefined : findReference();
let note: string | undefined;
if (values['no-reference']) note = 'reference skipped (--no-reference)';
else if (!script) note = 'reference skipped: ../shared/bench/ref_sweep.py not found next to this checkout (give --reference PATH)';
else if (spawnSync(python, ['-c', 'import numpy'], { stdio: 'ignore' }).status !== 0) {
  note = `reference skipped: ${python} cannot import numpy (Debian: apt-get install python3-numpy)`;
  python = '';
}

const budgets = budgetGrid(validation.costMs, nBudgets);
const sweepSecs: number[] = [];
const refs: RefRun[] = [];
let results: PolicyResult[] = [];
for (let r = 0; r < rounds; r++) {
  // A fresh fitting table each round, so the one sort per exit is paid (and timed) every round, as in round 1.
  const fit: ScoredTrace = r === 0 ? vs : { trace: validation, scores: computeScores(validation) };
  globalThis.gc?.();
  t0 = process.hrtime.bigint();
  results = budgetSweep([{ spec: budgetedThreshold, params: { score: 'maxprob' } }], budgets, fit, ts, 1);
  sweepSecs.push(seconds(t0));
  if (script && !note) refs.push(runReference(python, script));
}

const sweep = median(sweepSecs);
const score = median(scoreSecs);
const rate = (sec: number) => (N * nBudgets) / sec;
console.log(`ours, score table (maxprob, margin, entropy, patience, argmax, correct; both splits): ${scoreSecs.map((s) => s.toFixed(3)).join(', ')} s`);
console.log(`ours, sweep: ${sweepSecs.map((s) => s.toFixed(2)).join(', ')} s`);
const mid = results[Math.floor(nBudgets / 2)];
const worst = results.reduce((a, x) => Math.max(a, x.fitExpectedCostMs! - x.budgetMs!), -Infinity);
console.log(`ours, mid budget ${mid.budgetMs!.toFixed(3)} ms: accuracy ${mid.accuracy.toFixed(4)}, mean cost ${mid.meanCostMs.toFixed(4)} ms; max (fitting cost − budget) ${worst.toExponential(2)} ms (≤ 0: every budget met)`);
for (const r of refs) console.log(`numpy: ${r.line}`);
const peakRss = process.resourceUsage().maxRSS * 1024;

console.log('');
console.log(`| work | ours (median of ${rounds}) | numpy reference | ours ÷ numpy |`);
console.log('|---|---|---|---|');
if (refs.length) {
  const rs = median(refs.map((r) => r.sweepSec));
  const rsc = median(refs.map((r) => r.scoresSec));
  const ratio = median(sweepSecs.map((s, i) => rate(s) / rate(refs[i].sweepSec)));
  console.log(
    `| ${nBudgets}-budget sweep | ${g(rate(sweep))} sample·budgets/s (${((sweep / nBudgets) * 1000).toFixed(1)} ms a budget) | ` +
      `${g(rate(rs))} (${((rs / nBudgets) * 1000).toFixed(1)} ms) | ${ratio.toFixed(2)}× throughput |`,
  );
  console.log(`| score table | ${score.toFixed(3)} s | ${rsc.toFixed(3)} s | ${(rsc / score).toFixed(2)}× speed |`);
} else {
  console.log(`| ${nBudgets}-budget sweep | ${g(rate(sweep))} sample·budgets/s (${((sweep / nBudgets) * 1000).toFixed(1)} ms a budget) | – | – |`);
  console.log(`| score table | ${score.toFixed(3)} s | – | – |`);
}
console.log(`| peak RSS (ours) | ${(peakRss / 2 ** 20).toFixed(0)} MiB | | |`);
if (note) console.log(`\nnote: ${note}`);
