/**
 * The score table (argmax, correct, maxprob, margin, entropy, patience) on N = 1,000,000 samples × K = 8 exits
 * × C = 10 classes, against numpy computing the same scores from the same arrays in the same run
 * (experiments/bench_scores.py; skipped with a note when python3 or numpy is missing). The two alternate:
 * each of `--rounds` rounds times exitlab's probs and logits paths `--repeats` times each, then runs the numpy
 * script, which does the same in its own process, so a machine whose speed drifts (shared cores) slows both sides
 * alike. Each figure is the best of all its timings: wall clock, one thread, output allocation included on both
 * sides. The arrays are built and written before any timing; numpy's loading of them is not timed.
 *
 *   tsx experiments/bench-scores.ts [--samples 1000000] [--exits 8] [--classes 10] [--repeats 3] [--rounds 3]
 *                                   [--baseline DIR]
 *
 * `--baseline DIR` also times `computeScores` of another checkout (e.g. /work/main) on the same traces, in the
 * same rounds: the before/after of a change to lib/scores.ts, measured side by side.
 */
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { computeScores } from '../lib/scores.ts';
import { syntheticTrace } from '../lib/synthetic.ts';
import { ExitTrace } from '../lib/trace.ts';
import { encodeNpy } from '../lib/npy.ts';

const { values } = parseArgs({
  options: {
    samples: { type: 'string', default: '1000000' },
    exits: { type: 'string', default: '8' },
    classes: { type: 'string', default: '10' },
    repeats: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    baseline: { type: 'string' },
  },
});
const N = Number(values.samples);
const K = Number(values.exits);
const C = Number(values.classes);
const R = Number(values.repeats);
const ROUNDS = Number(values.rounds);

/** Best of R wall-clock timings of fn, in seconds. */
const time = (fn: () => unknown): number => {
  let m = Infinity;
  for (let r = 0; r < R; r++) {
    const t0 = process.hrtime.bigint();
    fn();
    m = Math.min(m, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return m;
};

const probsTrace = syntheticTrace({ nSamples: N, nExits: K, nClasses: C, seed: 1, split: 'bench' });
// Logits with the same softmax: log p (every synthetic probability is positive).
const logits = new Float32Array(probsTrace.probs.length);
for (let i = 0; i < logits.length; i++) logits[i] = Math.log(probsTrace.probs[i]);
const logitTrace = new ExitTrace({ nSamples: N, nExits: K, nClasses: C, logits, labels: probsTrace.labels, costMs: probsTrace.costMs, provenance: probsTrace.provenance });
const baseline = values.baseline
  ? ((await import(pathToFileURL(resolve(values.baseline, 'lib/scores.ts')).href)) as { computeScores: (t: unknown) => unknown })
  : undefined;

console.log(`bench-scores: N=${N} K=${K} C=${C} (${((N * K * C * 4) / 2 ** 20).toFixed(0)} MiB of float32 outputs), best of ${R} × ${ROUNDS} alternating rounds, node ${process.version}`);
const ours = { probs: Infinity, logits: Infinity, baseProbs: Infinity, baseLogits: Infinity };

const dir = mkdtempSync(join(tmpdir(), 'exitlab-bench-scores-'));
try {
  writeFileSync(join(dir, 'p.npy'), encodeNpy(probsTrace.probs, [N, K, C]));
  writeFileSync(join(dir, 'y.npy'), encodeNpy(probsTrace.labels, [N]));
  writeFileSync(join(dir, 'z.npy'), encodeNpy(logits, [N, K, C]));
  let py: { numpy: string; probsSeconds: number; logitsSeconds: number; basicSeconds: number } | undefined;
  let pySkipped = false;
  for (let round = 0; round < ROUNDS; round++) {
    ours.probs = Math.min(ours.probs, time(() => computeScores(probsTrace)));
    ours.logits = Math.min(ours.logits, time(() => computeScores(logitTrace)));
    if (baseline) {
      ours.baseProbs = Math.min(ours.baseProbs, time(() => baseline.computeScores(probsTrace)));
      ours.baseLogits = Math.min(ours.baseLogits, time(() => baseline.computeScores(logitTrace)));
    }
    if (pySkipped) continue;
    try {
      const out = execFileSync('python3', [join(import.meta.dirname, 'bench_scores.py'), join(dir, 'p.npy'), join(dir, 'y.npy'), join(dir, 'z.npy'), '--repeats', String(R)], { encoding: 'utf8' });
      const round = JSON.parse(out.trim().split('\n').pop() as string) as NonNullable<typeof py>;
      py = py
        ? { ...py, probsSeconds: Math.min(py.probsSeconds, round.probsSeconds), logitsSeconds: Math.min(py.logitsSeconds, round.logitsSeconds), basicSeconds: Math.min(py.basicSeconds, round.basicSeconds) }
        : round;
    } catch (err) {
      console.log(`numpy reference skipped: ${(err as Error).message.split('\n')[0]}`);
      pySkipped = true;
    }
  }
  const rows: [string, number][] = [
    ['exitlab computeScores, probs (fused pass)', ours.probs],
    ['exitlab computeScores, logits (fused pass, float64)', ours.logits],
  ];
  if (baseline) {
    rows.push([`baseline ${values.baseline} computeScores, probs`, ours.baseProbs]);
    rows.push([`baseline ${values.baseline} computeScores, logits`, ours.baseLogits]);
  }
  if (py) {
    rows.push([`numpy ${py.numpy}, probs (float32)`, py.probsSeconds]);
    rows.push([`numpy ${py.numpy}, logits (float32)`, py.logitsSeconds]);
    rows.push([`numpy ${py.numpy}, probs: maxprob + argmax + correct only`, py.basicSeconds]);
  }
  for (const [what, sec] of rows) console.log(`${what.padEnd(58)} ${sec.toFixed(3)} s  ${((N * K) / sec / 1e6).toFixed(1)} M rows/s`);
  if (py) {
    console.log(`ratio numpy/exitlab: probs ${(py.probsSeconds / rows[0][1]).toFixed(2)}×, logits ${(py.logitsSeconds / rows[1][1]).toFixed(2)}× (> 1: exitlab faster)`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
