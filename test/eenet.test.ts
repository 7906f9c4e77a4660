/**
 * EENet (policies/eenet/): the loss's TF.js gradients against finite differences (and the
 * reference's detaches: no BCE gradient into the heads, no KL/cost gradient into g), reduction to MSDNet's
 * thresholds with scores frozen at max-prob, budget met on the fitting data at every budget, bit-identical
 * thresholds for the same seed on the cpu backend, tensor memory flat across a multi-trial fit, save/load round
 * trip deciding identically on a new trace, the learned score usable by the threshold policies, and input errors.
 */
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { exitsByThresholds, geometricShares, thresholdsBySorting } from '../lib/calibrate.ts';
import {
  DEFAULT_EENET_CONFIG,
  eenetFromJSON,
  eenetScores,
  fitEENet,
  initEENetWeights,
  lossTerms,
  makeData,
  packFeatures,
  phaseLoss,
  phaseVariables,
  sharesWithinBudget,
  toVariables,
  disposeVariables,
  type EENetConfig,
  type EENetVariables,
} from '../policies/eenet/index.ts';
import { InputError } from '../lib/errors.ts';
import { loadTrace } from '../lib/io.ts';
import { budgetGrid, runPolicy, summarizeExits } from '../lib/offline.ts';
import { modelInfo } from '../lib/policy.ts';
import { Rng } from '../lib/random.ts';
import { scoreTrace, type ScoredTrace } from '../lib/scores.ts';
import { syntheticTrace } from '../lib/synthetic.ts';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/tensor.ts';
import { createEENetPolicy, eenet, eenetPolicyFromJSON } from '../policies/eenet/index.ts';
import { getPolicySpec } from '../policies/index.ts';

// Fitting needs a backend; initialising it at import time also serves the conformance suite, which runs later in
// the same process (uvu imports every file before running any suite).
await initBackend();

const s = suite('eenet');

const SMALL: EENetConfig = { ...DEFAULT_EENET_CONFIG, trials: 2, epochs: 6, patience: 3, period: 2, lr: 1e-2, batchSize: 128 };
const val = scoreTrace(syntheticTrace({ nSamples: 400, nExits: 4, nClasses: 6, seed: 21, costMs: [1, 2, 3.5, 5] }));
const KDD = fileURLToPath(new URL('../fixtures/nsl-kdd-mlp/manifest.json', import.meta.url));
const other = scoreTrace(syntheticTrace({ nSamples: 300, nExits: 4, nClasses: 6, seed: 22, costMs: [1, 2, 3.5, 5] }));

/** Read a variable's values, run `f` with entry i set to x, restore. */
function withEntry<T>(v: tf.Variable, i: number, x: number, f: () => T): T {
  const orig = v.dataSync().slice();
  const next = orig.slice();
  next[i] = x;
  v.assign(tf.tensor(next, v.shape));
  try {
    return f();
  } finally {
    v.assign(tf.tensor(orig, v.shape));
  }
}

s('gradient check: TF.js gradients of each phase loss match central finite differences; detached paths give zero', () => {
  const tiny = scoreTrace(syntheticTrace({ nSamples: 7, nExits: 3, nClasses: 3, seed: 5, costMs: [1, 2, 4] }));
  const rng = new Rng(3);
  const w0 = initEENetWeights(3, 3, 0.5, 'logit', rng);
  // Move g off its max-prob start (but keep q inside (0, 1), where clamp has a gradient) and the heads off zero.
  const g = w0.g.map((w) => w.map((x, r) => x * 0.7 + 0.05 * Math.sin(r + 1)));
  const weights = { ...w0, g };
  const v: EENetVariables<tf.Variable, tf.Tensor2D> = toVariables<tf.Variable, tf.Tensor2D>(weights);
  const data = makeData(tiny);
  const idx = Int32Array.from({ length: 7 }, (_, i) => i);
  const D = v.layout.featOffset[3];
  const feats = tf.tensor2d(packFeatures(data, v.layout, v.g.dataSync(), idx), [7, D]);
  const correct = tf.tensor2d(data.correct, [7, 3]);
  const cost = tf.tensor2d([1, 2, 4], [1, 3]);
  const cfg = { alphaKl: 0.7, alphaCost: 0.3, weightDecay: 0.05 };
  const budget = 2.2;
  try {
    const q = tf.tidy(() => tf.matMul(feats, tf.mul(v.g, v.maskG)).dataSync());
    assert.ok(q.every((x) => x > 0.02 && x < 0.98), `q must stay inside (0, 1) for the check: ${Array.from(q)}`);
    for (const phase of ['q', 'h'] as const) {
      const loss = (): number => tf.tidy(() => phaseLoss(lossTerms<tf.Scalar>(v, feats, correct, cost, budget, 1), v, phase, cfg).dataSync()[0]);
      const vars = phaseVariables(v, phase);
      const { grads } = tf.variableGrads(() => phaseLoss(lossTerms<tf.Scalar>(v, feats, correct, cost, budget, 1), v, phase, cfg), vars);
      let checked = 0;
      for (const variable of vars) {
        const grad = grads[variable.name].dataSync().slice();
        const mask = variable === v.g ? v.maskG.dataSync() : variable === v.w1 ? v.maskW1.dataSync() : variable === v.w2 ? v.maskW2.dataSync() : undefined;
        const values = variable.dataSync().slice();
        for (let i = 0; i < values.length; i++) {
          if (mask && mask[i] === 0) {
            assert.is(grad[i], 0, `masked entry ${variable.name}[${i}] must get no gradient`);
            continue;
          }
          const h = 1e-2;
          const fd = (withEntry(variable, i, values[i] + h, loss) - withEntry(variable, i, values[i] - h, loss)) / (2 * h);
          const tol = 2e-3 + 2e-2 * Math.abs(fd);
          assert.ok(Math.abs(fd - grad[i]) <= tol, `phase ${phase}: d/d${variable.name}[${i}] TF ${grad[i]} vs FD ${fd}`);
          checked++;
        }
      }
      for (const gr of Object.values(grads)) gr.dispose();
      assert.ok(checked > 10);
    }
    // Detaches: BCE sends nothing to the heads, KL and cost send nothing to g.
    const bceHeads = tf.variableGrads(() => lossTerms<tf.Scalar>(v, feats, correct, cost, budget, 1).bce, phaseVariables(v, 'h'));
    for (const gr of Object.values(bceHeads.grads)) {
      assert.ok(gr.dataSync().every((x) => x === 0), 'BCE gradient leaked into a head');
      gr.dispose();
    }
    bceHeads.value.dispose();
    const hToG = tf.variableGrads(() => {
      const t = lossTerms<tf.Scalar>(v, feats, correct, cost, budget, 1);
      return tf.add(t.kl, t.costLoss) as tf.Scalar;
    }, [v.g]);
    assert.ok(hToG.grads[v.g.name].dataSync().every((x) => x === 0), 'KL/cost gradient leaked into g');
    hToG.grads[v.g.name].dispose();
    hToG.value.dispose();
  } finally {
    disposeVariables(v);
    feats.dispose();
    correct.dispose();
    cost.dispose();
  }
});

s('scores frozen at max-prob, no training: thresholds equal the MSDNet (budgeted-threshold maxprob) ones', () => {
  const w = initEENetWeights(4, 6, 0.5, 'logit', new Rng(1));
  const q = eenetScores(w, val);
  assert.equal(Array.from(q), Array.from(val.scores.get('maxprob')), 'initial q is max-prob, bit for bit');
  const spec = getPolicySpec('budgeted-threshold');
  for (const B of budgetGrid(val.trace.costMs, 6)) {
    const shares = geometricShares(val.trace.costMs, B);
    const msd = spec.create(spec.parse({ score: 'maxprob' }), { rng: new Rng(1), model: modelInfo(val) });
    const rep = msd.fit!(val, { budgetMs: B });
    assert.equal(Array.from(thresholdsBySorting(q, 4, shares)), rep.details!.thresholds as number[], `B=${B}`);
  }
});

s('shares are moved towards cheaper exits only as far as the budget needs', () => {
  const c = [1, 2, 3.5, 5];
  const over = sharesWithinBudget([0.1, 0.1, 0.2, 0.6], c, 2);
  const cost = over.reduce((a, p, k) => a + p * c[k], 0);
  assert.ok(cost <= 2 && cost > 2 - 1e-9, `cost ${cost}`);
  assert.equal(sharesWithinBudget([0.5, 0.3, 0.1, 0.1], c, 4), [0.5, 0.3, 0.1, 0.1]);
});

s('budget met on the fitting data at every budget (synthetic and the NSL-KDD validation split)', () => {
  const kdd = scoreTrace(loadTrace(KDD, 'validation'));
  for (const [scored, budgets] of [
    [val, budgetGrid(val.trace.costMs, 8)],
    [kdd, budgetGrid(kdd.trace.costMs, 4)],
  ] as const) {
    for (const B of budgets) {
      const p = createEENetPolicy(SMALL, { rng: new Rng(2), model: modelInfo(scored) });
      const rep = p.fit!(scored, { budgetMs: B });
      const sum = summarizeExits(runPolicy(p, scored), scored);
      assert.ok(sum.meanCostMs <= B * (1 + 1e-9), `B=${B}: mean cost ${sum.meanCostMs}`);
      assert.ok(Math.abs(sum.meanCostMs - rep.expectedCostMs!) < 1e-9, 'fit report matches the run');
    }
  }
});

s('same seed, same thresholds and weights, bit for bit, on the cpu backend', async () => {
  const previous = tf.getBackend();
  await tf.setBackend('cpu');
  try {
    const a = fitEENet(val, 2.5, SMALL, new Rng(7));
    const b = fitEENet(val, 2.5, SMALL, new Rng(7));
    assert.equal(Array.from(a.model.thresholds), Array.from(b.model.thresholds));
    assert.equal(a.model.weights.g.map((w) => Array.from(w)), b.model.weights.g.map((w) => Array.from(w)));
    const c = fitEENet(val, 2.5, SMALL, new Rng(8));
    assert.not.equal(c.model.weights.g.map((w) => Array.from(w)), a.model.weights.g.map((w) => Array.from(w)), 'the seed is used');
  } finally {
    await tf.setBackend(previous);
  }
});

s('tensor memory is flat across a multi-trial fit', () => {
  fitEENet(val, 3, { ...SMALL, trials: 1 }, new Rng(1)); // warm up kernels / lazily created constants
  const before = tf.memory().numTensors;
  fitEENet(val, 3, { ...SMALL, trials: 3 }, new Rng(1));
  assert.is(tf.memory().numTensors, before);
});

s('save/load: the JSON round trip decides identically on a new trace without retraining', () => {
  const p = createEENetPolicy(SMALL, { rng: new Rng(4), model: modelInfo(val) });
  p.fit!(val, { budgetMs: 2.4 });
  const json = JSON.parse(JSON.stringify(p.toJSON()));
  const loaded = eenetPolicyFromJSON(json, modelInfo(other));
  const a = runPolicy(p, other);
  const b = runPolicy(loaded, other);
  assert.equal(Array.from(b), Array.from(a));
  const m = eenetFromJSON(json);
  assert.equal(Array.from(m.thresholds), Array.from(p.model!.thresholds));
  assert.equal(Array.from(exitsByThresholds(eenetScores(m.weights, other), 4, m.thresholds)), Array.from(a), 'batch scoring agrees with per-view decisions');
});

s('learned scores go through the core: threshold and budgeted-threshold use them by name', () => {
  const p = createEENetPolicy(SMALL, { rng: new Rng(5), model: modelInfo(val) });
  p.fit!(val, { budgetMs: 2.2 });
  const m = p.model!;
  const withQ = (sc: ScoredTrace): ScoredTrace => ({ trace: sc.trace, scores: sc.scores.withScore('eenet', eenetScores(m.weights, sc)) });
  const testQ = withQ(other);
  const th = getPolicySpec('threshold');
  const tp = th.create(th.parse({ score: 'eenet', thresholds: Array.from(m.thresholds.slice(0, 3)) }), { rng: new Rng(1), model: modelInfo(testQ) });
  assert.equal(Array.from(runPolicy(tp, testQ)), Array.from(runPolicy(p, other)));
  const bt = getPolicySpec('budgeted-threshold');
  const valQ = withQ(val);
  const bp = bt.create(bt.parse({ score: 'eenet' }), { rng: new Rng(1), model: modelInfo(valQ) });
  bp.fit!(valQ, { budgetMs: 2.2 });
  assert.ok(summarizeExits(runPolicy(bp, valQ), valQ).meanCostMs <= 2.2 * (1 + 1e-9));
});

s('bad parameters and saved files: InputError naming the field', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ lr: -1 }, 'params.lr'],
    [{ trials: 0 }, 'params.trials'],
    [{ epochs: 1.5 }, 'params.epochs'],
    [{ headOutput: 'tanh' }, 'params.headOutput'],
    [{ learningRate: 1 }, 'params.learningRate'],
  ];
  for (const [raw, field] of cases) {
    try {
      eenet.parse(raw);
      assert.unreachable(`${JSON.stringify(raw)} accepted`);
    } catch (e) {
      assert.instance(e, InputError);
      assert.is((e as InputError).field, field);
    }
  }
  const p = createEENetPolicy(SMALL, { rng: new Rng(1), model: modelInfo(val) });
  assert.throws(() => p.fit!(val, {}), (e: unknown) => e instanceof InputError && e.field === 'budgetMs');
  assert.throws(() => p.fit!(val, { budgetMs: 0.5 }), (e: unknown) => e instanceof InputError && e.field === 'budgetMs');
  p.fit!(val, { budgetMs: 3 });
  const good = p.toJSON();
  const bad: [unknown, string][] = [
    [{ ...good, format: 'x' }, 'format'],
    [{ ...good, g: good.g.slice(1) }, 'g'],
    [{ ...good, g: [[1], ...good.g.slice(1)] }, 'g[0]'],
    [{ ...good, thresholds: [0, 'NaN', 0, '-Infinity'] }, 'thresholds[1]'],
    [{ ...good, heads: good.heads.map((h, k) => (k === 2 ? { ...h, b1: [] } : h)) }, 'heads[2].b1'],
  ];
  for (const [json, field] of bad) {
    assert.throws(() => eenetFromJSON(json), (e: unknown) => e instanceof InputError && e.field === field, field);
  }
  assert.throws(() => eenetPolicyFromJSON(good, { ...modelInfo(val), costMs: [1, 2, 3, 4] }), (e: unknown) => e instanceof InputError && e.field === 'costMs');
});

s.run();
