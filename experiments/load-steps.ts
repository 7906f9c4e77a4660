/**
 * Adaptation after load steps (issue 17): Poisson arrivals whose load λ/μ steps 0.5 → 2 → 0.8 (μ = the full
 * network's service rate; each phase `--phase` full-network service times long), B = 10, every backlog-threshold
 * control beside the ordinary EEN and the three single-exit schedulers. Per interval of `--every` service times,
 * pooled over `--seeds` seeds: loss ratio (lost / arrived) and accuracy counting losses (correct / (served + lost)).
 * Writes `<out>/load-steps.csv` and `<out>/load-steps.svg` (two panels: loss and accuracy over time, step times
 * marked) and prints per phase the loss and accuracy in the first tenth of the phase and in the rest.
 *
 * Usage: tsx experiments/load-steps.ts [--trace fixtures/fashion-mnist-cnn/manifest.json] [--seeds 3]
 *        [--phase 10000] [--every 250] [--out results/load-steps]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { loadSteps } from '../lib/arrivals.ts';
import { loadTrace } from '../lib/io.ts';
import { modelInfo } from '../lib/policy.ts';
import { simulate, type TimeSeries } from '../lib/queue.ts';
import { instantiate, loadPolicy, type RawParams } from '../lib/registry.ts';
import { scoreTrace } from '../lib/scores.ts';
import { getPolicySpec } from '../policies/index.ts';

const { values } = parseArgs({
  options: {
    trace: { type: 'string', default: 'fixtures/fashion-mnist-cnn/manifest.json' },
    seeds: { type: 'string', default: '3' },
    phase: { type: 'string', default: '10000' },
    every: { type: 'string', default: '250' },
    out: { type: 'string', default: 'results/load-steps' },
    buffer: { type: 'string', default: '10' },
  },
});
const validation = scoreTrace(loadTrace(values.trace!, 'validation'));
const test = scoreTrace(loadTrace(values.trace!, 'test'));
const cost = test.trace.costMs;
const K = cost.length;
const unit = cost[K - 1];
const phaseMs = Number(values.phase) * unit;
const everyMs = Number(values.every) * unit;
const loads = [0.5, 2, 0.8];
const B = Number(values.buffer);
const nSeeds = Number(values.seeds);

const entries: { label: string; policy: string; params: RawParams; budgetFraction?: number }[] = [
  { label: 'EEN', policy: 'budgeted-threshold', params: { score: 'maxprob' }, budgetFraction: 0.5 },
  { label: 'reactive', policy: 'reactive', params: {} },
  { label: 'model-based', policy: 'model-based', params: {} },
  { label: 'rate-based', policy: 'rate-based', params: {} },
  { label: 'bt-model', policy: 'backlog-threshold', params: { control: 'model' } },
  { label: 'bt-reactive', policy: 'backlog-threshold', params: { control: 'reactive' } },
  { label: 'bt-backlog', policy: 'backlog-threshold', params: { control: 'backlog' } },
];

const rows: { policy: string; t: number; loss: number; accuracy: number }[] = [];
const csv = ['policy,time_over_service,arrived,lost,served,correct,loss_ratio,accuracy_overall'];
console.log(`load-steps: ${test.trace}, λ/μ ${loads.join(' → ')}, phases of ${values.phase} service times, B = ${B}, ${nSeeds} seeds`);
console.log(`${'policy'.padEnd(12)} ${loads.map((l) => `λ/μ=${l}: loss first/rest, acc first/rest`.padEnd(44)).join(' ')}`);
for (const e of entries) {
  const spec = getPolicySpec(e.policy);
  await loadPolicy(spec);
  let pooled: { arrived: number[]; lost: number[]; served: number[]; correct: number[]; timeMs: number[] } | undefined;
  for (let seed = 1; seed <= nSeeds; seed++) {
    const policy = instantiate(spec, e.params, { seed, model: modelInfo(validation) });
    const budgetMs = e.budgetFraction === undefined ? undefined : cost[0] + e.budgetFraction * (cost[K - 1] - cost[0]);
    policy.fit?.(validation, budgetMs === undefined ? {} : { budgetMs });
    const ts = simulate(policy, test, { bufferCapacity: B, arrivals: loadSteps(1 / unit, phaseMs, loads), horizonMs: loads.length * phaseMs, timeSeriesEveryMs: everyMs, seed }).timeSeries as TimeSeries;
    if (!pooled) pooled = { arrived: [...ts.arrived], lost: [...ts.lost], served: [...ts.served], correct: [...ts.correct], timeMs: ts.timeMs };
    else for (let i = 0; i < ts.timeMs.length; i++) (['arrived', 'lost', 'served', 'correct'] as const).forEach((k) => (pooled![k][i] += ts[k][i]));
  }
  const p = pooled!;
  for (let i = 0; i < p.timeMs.length; i++) {
    const loss = p.arrived[i] ? p.lost[i] / p.arrived[i] : 0;
    const accuracy = p.served[i] + p.lost[i] ? p.correct[i] / (p.served[i] + p.lost[i]) : NaN;
    rows.push({ policy: e.label, t: p.timeMs[i] / unit, loss, accuracy });
    csv.push([e.label, p.timeMs[i] / unit, p.arrived[i], p.lost[i], p.served[i], p.correct[i], loss, accuracy].join(','));
  }
  // Per phase: the first tenth (adaptation) and the rest (settled).
  const cells = loads.map((_, ph) => {
    const sum = (from: number, to: number) => {
      let a = 0;
      let l = 0;
      let s = 0;
      let c = 0;
      p.timeMs.forEach((t, i) => {
        if (t > from && t <= to) {
          a += p.arrived[i];
          l += p.lost[i];
          s += p.served[i];
          c += p.correct[i];
        }
      });
      return { loss: l / a, acc: c / (s + l) };
    };
    const start = ph * phaseMs;
    const first = sum(start, start + phaseMs / 10);
    const rest = sum(start + phaseMs / 10, start + phaseMs);
    return `${first.loss.toFixed(4)}/${rest.loss.toFixed(4)}, ${first.acc.toFixed(4)}/${rest.acc.toFixed(4)}`.padEnd(44);
  });
  console.log(`${e.label.padEnd(12)} ${cells.join(' ')}`);
}

mkdirSync(values.out!, { recursive: true });
writeFileSync(join(values.out!, 'load-steps.csv'), csv.join('\n') + '\n');
const steps = loads.slice(1).map((_, i) => ({ t: ((i + 1) * phaseMs) / unit }));
const panel = (field: 'loss' | 'accuracy', title: string) => ({
  width: 640,
  height: 180,
  layer: [
    { data: { values: rows }, mark: { type: 'line', strokeWidth: 1.2 }, encoding: { x: { field: 't', type: 'quantitative', title: 'time (full-network service times)' }, y: { field, type: 'quantitative', title }, color: { field: 'policy', type: 'nominal' } } },
    { data: { values: steps }, mark: { type: 'rule', strokeDash: [4, 3], color: 'gray' }, encoding: { x: { field: 't', type: 'quantitative' } } },
  ],
});
const spec = {
  title: `Load steps λ/μ ${loads.join(' → ')} (${test.trace.provenance.model}, Poisson, B = ${B}, ${nSeeds} seeds pooled)`,
  vconcat: [panel('loss', 'loss ratio per interval'), panel('accuracy', 'accuracy counting losses')],
} as unknown as TopLevelSpec;
const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
writeFileSync(join(values.out!, 'load-steps.svg'), await view.toSVG());
view.finalize();
console.log(`wrote ${join(values.out!, 'load-steps.csv')} and load-steps.svg`);
