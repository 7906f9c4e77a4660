/**
 * The violation study on the shipped fixtures, as a plain script (before and besides the `risk-control`
 * experiment): violation rate of plain calibration and of every risk-controlled method, per budget / ε and δ.
 *
 *   npx tsx experiments/risk/measure.ts [--splits 200] [--seed 1] [--fixture fashion-mnist-cnn|nsl-kdd-mlp] [--design pool|shift]
 *
 * Designs: `pool` — the fixture's test split cut in halves at random (calibrate on one, test on the other);
 * `shift` — calibrate on a random half of the validation split, test on the whole test split (for NSL-KDD:
 * KDDTrain+-derived validation vs KDDTest+, a real shift).
 */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { loadTrace } from '../../lib/io.ts';
import { scoreTrace } from '../../lib/scores.ts';
import { getPolicySpec } from '../../policies/index.ts';
import { violationStudy, type StudyEntry } from './study.ts';
import type { ScoredTrace } from '../../lib/scores.ts';

/** Budget fractions (of the way from the first exit's cost to the last's) and gap targets the script sweeps. */
export const BUDGET_FRACTIONS = [0.2, 0.35, 0.5];
export const EPSILONS = [0.01, 0.02, 0.05];
export const DELTAS = [0.05, 0.1];

/** Study entries for one cost budget: plain calibration, naive, CRC, and LTT with each bound at each δ. */
export function costEntries(budgetMs: number, deltas: readonly number[], score = 'maxprob'): StudyEntry[] {
  const target = { kind: 'cost', budgetMs } as const;
  const out: StudyEntry[] = [
    { label: 'plain', spec: getPolicySpec('budgeted-threshold'), params: { score }, target },
    { label: 'naive', spec: getPolicySpec('risk-cost'), params: { score, method: 'naive' }, target },
    { label: 'crc', spec: getPolicySpec('risk-cost'), params: { score, method: 'crc' }, target },
  ];
  for (const delta of deltas) {
    for (const bound of ['wsr', 'hb'] as const) out.push({ label: `ltt-${bound} δ=${delta}`, spec: getPolicySpec('risk-cost'), params: { score, method: 'ltt', bound, delta }, target });
  }
  return out;
}

/** Study entries for one gap target ε: naive (= plain calibration of the gap), CRC, LTT at each δ; all on the shared path (the paper's). */
export function gapEntries(epsilon: number, deltas: readonly number[], score = 'maxprob', path: 'shared' | 'budget' = 'shared'): StudyEntry[] {
  const target = { kind: 'gap', epsilon } as const;
  const spec = getPolicySpec('risk-gap');
  const out: StudyEntry[] = [
    { label: 'naive', spec, params: { score, epsilon, method: 'naive', path }, target },
    { label: 'crc', spec, params: { score, epsilon, method: 'crc', path }, target },
  ];
  for (const delta of deltas) out.push({ label: `ltt δ=${delta}`, spec, params: { score, epsilon, method: 'ltt', delta, path }, target });
  return out;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      splits: { type: 'string', default: '200' },
      seed: { type: 'string', default: '1' },
      fixture: { type: 'string', multiple: true },
      design: { type: 'string', multiple: true },
    },
  });
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures');
  const fixtures = values.fixture ?? ['fashion-mnist-cnn', 'nsl-kdd-mlp'];
  const R = Number(values.splits);
  const seed = Number(values.seed);
  for (const fx of fixtures) {
    const manifest = join(root, fx, 'manifest.json');
    const testPool = scoreTrace(loadTrace(manifest, 'test'));
    const validation = scoreTrace(loadTrace(manifest, 'validation'));
    const designs = values.design ?? (fx === 'nsl-kdd-mlp' ? ['pool', 'shift'] : ['pool']);
    for (const design of designs) {
      const pools: { calibrationPool: ScoredTrace; testPool?: ScoredTrace; calibrationSize: number } =
        design === 'pool'
          ? { calibrationPool: testPool, calibrationSize: Math.floor(testPool.trace.nSamples / 2) }
          : { calibrationPool: validation, testPool, calibrationSize: Math.floor(validation.trace.nSamples / 2) };
      const cost = testPool.trace.costMs;
      const c0 = cost[0];
      const cK = cost[cost.length - 1];
      console.log(`\n## ${fx}, ${design} (calibration ${pools.calibrationSize}, ${R} splits)`);
      console.log('| target | method | violation rate (test) | violation rate (pool) | mean test risk | accuracy | cost ms |');
      console.log('|---|---|---|---|---|---|---|');
      const t0 = Date.now();
      for (const f of BUDGET_FRACTIONS) {
        const B = c0 + f * (cK - c0);
        const res = violationStudy({ ...pools, splits: R, seed, entries: costEntries(B, DELTAS) });
        for (const s of res.summary) console.log(`| B=${f} (${B.toFixed(4)} ms) | ${s.label} | ${s.violationRate.toFixed(3)} | ${s.poolViolationRate.toFixed(3)} | ${s.meanTestRisk.toFixed(4)} | ${s.meanAccuracy.toFixed(4)} | ${s.meanCostMs.toFixed(4)} |`);
      }
      for (const eps of EPSILONS) {
        const res = violationStudy({ ...pools, splits: R, seed, entries: gapEntries(eps, DELTAS) });
        for (const s of res.summary) console.log(`| ε=${eps} | ${s.label} | ${s.violationRate.toFixed(3)} | ${s.poolViolationRate.toFixed(3)} | ${s.meanTestRisk.toFixed(4)} | ${s.meanAccuracy.toFixed(4)} | ${s.meanCostMs.toFixed(4)} |`);
      }
      console.log(`(${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
