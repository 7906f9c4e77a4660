/**
 * EENet (Ilhan et al., arXiv 2301.07099, WACV 2024; reference code GitHub git-disl/EENet): learned exit utility
 * scores q_k = g_k(p_k, maxprob_k, conf_k, q̃_0..q̃_{k−1}) and exit assignment heads trained for a mean-cost
 * budget B on the validation trace; thresholds t_k by the sorting procedure on the learned scores with the heads'
 * mean exit shares; at test time a sample leaves at the first k with q_k ≥ t_k. The model is in `model.ts`, training
 * in `training.ts`, save/load in `serialisation.ts`; this file is the registry entry and the policy object (fit, decide, save/load).
 *
 * Budgeted: on the data it was fitted on, mean cost ≤ B.
 *
 * `guarantee: { kind: 'cost', delta, bound?, pathFraction?, points? }` (issue 18; lib/guarantee.ts) makes the budget
 * hold on new data: with probability ≥ 1 − δ over an exchangeable validation set, the mean cost per new sample is
 * ≤ B. The validation samples are shuffled with the policy's seeded stream and split: a share `pathFraction`
 * (default 0.5) trains EENet for B and fits its budget → thresholds map (π̄ of the trained heads kept within each
 * budget b, `sharesWithinBudget`, then the sorting procedure on the learned q) at budgets from the first exit's
 * cost up to min(B, c_K); the other part, which neither training nor the map saw, tests those points from the
 * cheapest end with Learn-then-Test fixed-sequence testing and a Waudby-Smith–Ramdas (default) or
 * Hoeffding–Bentkus upper confidence bound on the normalised mean cost (`fitOnPath`, lib/risk.ts). The scores the
 * test uses are EENet's own learned q on that part (`eenetScores`), the ones `decide` thresholds. Without the
 * option the fit is the plain one, bit for bit.
 *
 * Fitting and deciding are plain JavaScript (training: the fused step of `fused.ts`; TensorFlow.js only states the
 * loss for the gradient test); a fitted
 * or loaded policy decides in plain JavaScript (g_k is linear: C + 2 + k multiply-adds per exit).
 *
 * Reference bugs fixed (listed in ../shared/research/eenet.md):
 * - `q_layer_2(X).unsqueeze(-1)` broadcasts q to (N, N, 1): here q_k is one dot product per sample.
 * - `compute_loss` returns the undefined `ce_loss`: here the three terms are returned by name (`lossTerms`).
 * - `optimizer.zero_grad()` is never called, so gradients accumulate over the whole run: here each step uses
 *   only its own batch's gradient (TF.js computes fresh gradients per `minimize`).
 * - `best_model = m` keeps a reference to the live model, so the "best" model is always the last epoch's: here the
 *   best epoch's weights are copied out.
 * - The MSDNet baseline's share search keeps the first over-budget q: see `lib/calibrate.ts`.
 * - The KL target q^β/Σq^β divides by zero when every clamped q of a sample is 0: uniform target there.
 *
 * Deliberate differences from the reference:
 * - Earlier scores as features: the reference feeds clamp(q_j) to later exits in training but the unclamped q_j at
 *   test time (`test_exit_assigner`). We feed clamp(q_j, 0, 1) in both, so a fitted model sees at test time the
 *   inputs it was trained on. The thresholded score itself is unclamped q_k, as in the reference.
 * - Phases: the reference's single Adam steps every parameter every batch; with accumulated gradients and
 *   coupled weight decay that also moves the parameters of the inactive phase. We keep one Adam per phase and
 *   update only the active phase's parameters (g_k in the q-phase, h_k in the h-phase), q-phase first.
 * - Weight decay: coupled L2 (gradient += λ·w, PyTorch `Adam(weight_decay=…)`, what the reference uses), not
 *   decoupled AdamW; on the active phase's parameters only.
 * - Early stopping: the reference compares the epoch's mean *phase* loss (BCE in q-phases, the much smaller
 *   KL + cost in h-phases) against the best so far, which mixes two objectives. We compare the full objective
 *   BCE + α_KL·KL + α_cost·cost term, monitored on every batch whatever the phase; counted, as in the reference,
 *   only while the cost term is below 0.1.
 * - Model selection: as the reference, best fitting-data accuracy among trials whose head-expected cost is within
 *   10% of B; when no trial is (the reference then keeps the last trial), the trial whose head cost is closest
 *   to B.
 * - Threshold rounding and the budget: the reference gives exit k ⌊π̄_k·N⌋ samples and the rest to the last exit,
 *   and uses π̄ even when its cost exceeds B, so its fitted cost can exceed B. We use `thresholdsBySorting`
 *   (cumulative counts rounded up, ties exit together) and, when Σ π̄_k c_k > B, move π̄ towards MSDNet's geometric
 *   shares for B just enough to reach B (`sharesWithinBudget`). The budget then holds on the fitting data.
 * - Head output: the reference's head ends in a sigmoid before the softmax across exits, which bounds every
 *   per-sample exit probability by e/(e + K − 1) (0.475 for K = 4). The reference's own shipped shares
 *   (ResNet56/CIFAR-10 at 2.5 ms: .882 at exit 0) are impossible under that bound, so the released results cannot
 *   come from that head; and low budgets need most samples at exit 0. We default to `headOutput: 'logit'` (no
 *   final sigmoid); `'sigmoid'` gives the code as released.
 * - Defaults (`DEFAULT_EENET_CONFIG`): 4 trials × ≤ 100 epochs, patience 20, lr 5e-3, weight decay 1e-4, instead
 *   of 10 × 1000, 100, 3e-5, 1e-2: a full fit on the 5,000-sample Fashion-MNIST validation split then takes
 *   seconds on one core with wasm, and the heads can move their exit shares to the budget (with the reference's
 *   lr and decay they stay near uniform; the measurement is in `DEFAULT_EENET_CONFIG`'s comment). The reference
 *   values are `REFERENCE_EENET_CONFIG` and every one is a parameter.
 * - Features use the core's `maxprob` and `entropy` scores (the latter clamped to [0, 1] against float32 rounding;
 *   the reference's conf is not clamped).
 */
import { InputError } from '../../lib/errors.ts';
import type { ExitView, ModelInfo, Policy, PolicyContext } from '../../lib/policy.ts';
import { ThresholdCalibrator } from '../../lib/calibrate.ts';
import { budgetPathFrom, fitOnPath, parseCostGuarantee, subsetScored, type CostGuarantee } from '../../lib/guarantee.ts';
import { ParamReader, type PolicySpec } from '../../lib/registry.ts';
import type { ScoredTrace } from '../../lib/scores.ts';
import {
  DEFAULT_EENET_CONFIG,
  checkConfig,
  eenetScores,
  evaluateThresholds,
  exitProbabilities,
  meanShares,
  scoreAt,
  scoresFromView,
  sharesWithinBudget,
  type EENetConfig,
  type FittedEENet,
} from './model.ts';
import { eenetFromJSON, eenetToJSON, type EENetJSON } from './serialisation.ts';
import { fitEENet } from './training.ts';

/**
 * Parameters of `eenet`: the training configuration (see `EENetConfig` for units and reference values) and,
 * optionally, a cost guarantee (module comment).
 */
export type EENetParams = EENetConfig & { readonly guarantee?: CostGuarantee };

/** An EENet policy: the contract plus access to the fitted model for saving. */
export interface EENetPolicy extends Policy {
  /** The fitted (or loaded) model; undefined before `fit`. */
  readonly model: FittedEENet | undefined;
  /** The fitted model as JSON (`eenetFromJSON` / `eenetPolicyFromJSON` load it back). */
  toJSON(): EENetJSON;
}

const SRC = 'policy "eenet"';

/** What `fitGuaranteed` returns: the fitted model and the fit's statistics for `details`. */
interface GuaranteedFit {
  readonly model: FittedEENet;
  /** Mean cost on the whole validation trace under the certified thresholds, ms. */
  readonly meanCostMs: number;
  readonly details: Record<string, unknown>;
}

/**
 * The guaranteed fit (module comment): shuffle, train on the path part, budget path on the path part, Learn-then-Test
 * on the held-out part.
 * With fewer than 2 validation samples the path cannot be both fitted and tested: the model is trained on what
 * there is and the safe end is returned (everyone leaves at exit 0, cost exactly c₀ ≤ B), as `fitRiskControlled` does.
 */
function fitGuaranteed(validation: ScoredTrace, B: number, config: EENetConfig, g: CostGuarantee, rng: PolicyContext['rng']): GuaranteedFit {
  const { nSamples: N, nExits: K, costMs } = validation.trace;
  if (!(B >= costMs[0])) throw new InputError(SRC, 'budgetMs', `a budget ≥ the first exit's cost ${costMs[0]} ms`, String(B));
  if (N < 2) {
    const trained = fitEENet(validation, B, config, rng.fork('eenet'));
    const thresholds = new Float64Array(K).fill(-Infinity);
    const shares = costMs.map((_, k) => (k === 0 ? 1 : 0));
    const all = evaluateThresholds(eenetScores(trained.model.weights, validation), thresholds, validation);
    return {
      model: { weights: trained.model.weights, thresholds, shares, budgetMs: B, costMs: [...costMs], config },
      meanCostMs: all.meanCostMs,
      details: { thresholds: Array.from(thresholds), shares, validationAccuracy: all.accuracy, pathBudgetMs: costMs[0], pathIndex: 0, nPath: N, nTest: 0, chosenTrial: trained.chosen, trials: trained.trials },
    };
  }
  const order = new Int32Array(N);
  for (let n = 0; n < N; n++) order[n] = n;
  rng.fork('eenet guarantee order').shuffle(order);
  // Same split rule as fitRiskControlled (lib/guarantee.ts): both parts non-empty.
  const nPath = Math.min(N - 1, Math.max(1, Math.round(g.pathFraction * N)));
  const pathPart = subsetScored(validation, order.subarray(0, nPath));
  const testPart = subsetScored(validation, order.subarray(nPath));
  const trained = fitEENet(pathPart, B, config, rng.fork('eenet'));
  const w = trained.model.weights;
  // The budget → thresholds map of the trained model on the path part only: q and π̄ once, then per budget b the
  // shares kept within b and the sorting procedure (ThresholdCalibrator: thresholdsBySorting's values, one sort).
  const qPath = eenetScores(w, pathPart);
  const pbar = meanShares(exitProbabilities(w, pathPart, qPath), K);
  const calibrator = new ThresholdCalibrator(qPath, K);
  const hi = Math.min(B, costMs[K - 1]);
  const path = budgetPathFrom((b) => calibrator.fit(sharesWithinBudget(pbar, costMs, b)).thresholds, K, costMs, costMs[0], hi, hi === costMs[0] ? 1 : g.points);
  const qTest = eenetScores(w, testPart);
  const fit = fitOnPath(path, { scores: qTest, correct: testPart.scores.correct, nExits: K, costMs }, { kind: 'cost', budgetMs: B }, { method: 'ltt', delta: g.delta, bound: g.bound });
  const thresholds = fit.thresholds;
  // Shares the chosen point was sorted for; the safe end (everyone at exit 0) was not sorted at all.
  const shares = fit.parameter === costMs[0] ? costMs.map((_, k) => (k === 0 ? 1 : 0)) : sharesWithinBudget(pbar, costMs, fit.parameter);
  const heldOut = evaluateThresholds(qTest, thresholds, testPart);
  const all = evaluateThresholds(eenetScores(w, validation), thresholds, validation);
  return {
    model: { weights: w, thresholds, shares, budgetMs: B, costMs: [...costMs], config },
    meanCostMs: all.meanCostMs,
    details: {
      thresholds: Array.from(thresholds),
      pbar,
      shares,
      validationAccuracy: all.accuracy,
      pathBudgetMs: fit.parameter,
      pathIndex: fit.pathIndex,
      nPath,
      nTest: N - nPath,
      heldOutCostMs: heldOut.meanCostMs,
      heldOutAccuracy: heldOut.accuracy,
      pValues: fit.selection.pValues.slice(-2),
      chosenTrial: trained.chosen,
      trials: trained.trials,
    },
  };
}

function makePolicy(config: EENetConfig, ctx: PolicyContext | undefined, loaded: FittedEENet | undefined, guarantee?: CostGuarantee): EENetPolicy {
  let fitted = loaded;
  let label = loaded ? `eenet (B=${+loaded.budgetMs.toFixed(4)} ms, loaded)` : 'eenet';
  // Scratch for q_0..q_k of the sample being decided, reused across calls (no allocation per decision).
  let q = new Float64Array(loaded ? loaded.weights.nExits : (ctx?.model.nExits ?? 2));
  const decide = (view: ExitView): 'exit' | 'continue' => {
    if (!fitted) throw new InputError(SRC, 'fit', 'fit(validation, {budgetMs}) (or a loaded model) before the first decision', 'an unfitted policy');
    // q_0..q_k from the view: caching across calls would tie correctness to the harness calling exits of one
    // sample consecutively. Thresholds are float32 scores (`eenetScores` stores q as Float32Array): compare the
    // same rounding.
    const qk = scoresFromView(fitted.weights.g, fitted.weights.nClasses, view, q);
    return Math.fround(qk) >= fitted.thresholds[view.exit] ? 'exit' : 'continue';
  };
  return {
    get name() {
      return label;
    },
    get model() {
      return fitted;
    },
    fit(validation, objective) {
      const B = objective.budgetMs;
      if (B === undefined) throw new InputError(SRC, 'budgetMs', 'a budget in milliseconds for fit()', 'none');
      if (!ctx) throw new InputError(SRC, 'fit', 'a policy created with a random stream (createEENetPolicy) to train', 'a loaded policy');
      if (guarantee) {
        const gf = fitGuaranteed(validation, B, config, guarantee, ctx.rng);
        fitted = gf.model;
        q = new Float64Array(validation.trace.nExits);
        label = `eenet (B=${+B.toFixed(4)} ms, ≤ B w.p. ≥ ${1 - guarantee.delta})`;
        return { expectedCostMs: gf.meanCostMs, details: gf.details };
      }
      const r = fitEENet(validation, B, config, ctx.rng.fork('eenet'));
      fitted = r.model;
      q = new Float64Array(validation.trace.nExits);
      label = `eenet (B=${+B.toFixed(4)} ms)`;
      return {
        expectedCostMs: r.meanCostMs,
        details: {
          thresholds: Array.from(r.model.thresholds),
          pbar: r.pbar,
          shares: r.model.shares,
          validationAccuracy: r.accuracy,
          chosenTrial: r.chosen,
          trials: r.trials,
        },
      };
    },
    decide,
    decideAll(scored) {
      if (!fitted || scored.trace.nExits !== fitted.weights.nExits || scored.trace.nClasses !== fitted.weights.nClasses) return undefined;
      // decide's arithmetic over the arrays directly (same inputs, same order of operations, same float32
      // comparison), stopping at each sample's exit instead of computing q at every exit.
      const w = fitted.weights;
      const t = fitted.thresholds;
      const { nSamples: N, nExits: K, nClasses: C, probs } = scored.trace;
      const maxprob = scored.scores.get('maxprob');
      const conf = scored.scores.get('entropy');
      const qs = new Float64Array(K);
      const exits = new Int32Array(N);
      for (let n = 0; n < N; n++) {
        let e = 0;
        for (; e < K - 1; e++) {
          const row = n * K + e;
          qs[e] = scoreAt(w.g[e], C, probs, row * C, maxprob[row], conf[row], qs, e);
          if (Math.fround(qs[e]) >= t[e]) break;
        }
        exits[n] = e;
      }
      return exits;
    },
    toJSON() {
      if (!fitted) throw new InputError(SRC, 'toJSON', 'a fitted policy', 'an unfitted policy');
      return eenetToJSON(fitted);
    },
  };
}

/** Create an EENet policy (unfitted) with validated parameters. */
export function createEENetPolicy(params: EENetParams, ctx: PolicyContext): EENetPolicy {
  // The guarantee is a fitting option, not part of the model's training configuration (nor of its saved JSON).
  const { guarantee, ...config } = params;
  checkConfig(SRC, config);
  return makePolicy(config, ctx, undefined, guarantee);
}

/**
 * A policy from a saved model (`policy.toJSON()` / `eenetToJSON`): decides without retraining.
 * @param model when given, the model it will serve; its K, C and costs must match the saved ones.
 * @throws InputError naming the bad field.
 */
export function eenetPolicyFromJSON(json: unknown, model?: ModelInfo, source = 'EENet JSON'): EENetPolicy {
  const m = eenetFromJSON(json, source);
  if (model) {
    if (model.nExits !== m.weights.nExits || model.nClasses !== m.weights.nClasses) {
      throw new InputError(source, 'nExits/nClasses', `K = ${model.nExits}, C = ${model.nClasses} (the model served)`, `K = ${m.weights.nExits}, C = ${m.weights.nClasses}`);
    }
    if (model.costMs.some((c, k) => c !== m.costMs[k])) {
      throw new InputError(source, 'costMs', `the served model's costs [${model.costMs.join(', ')}]`, `[${m.costMs.join(', ')}]`);
    }
  }
  return makePolicy(m.config, undefined, m);
}

/** Registry entry `eenet`: EENet, fitted to a mean-cost budget (ms) on validation. */
export const eenet: PolicySpec<EENetParams> = {
  name: 'eenet',
  description: 'EENet (Ilhan et al., WACV 2024): learned exit scores and budget-driven exit assignment, thresholds by sorting.',
  defaults: DEFAULT_EENET_CONFIG,
  // Few trials and epochs: the conformance suite fits this dozens of times.
  testParams: () => [
    { trials: 2, epochs: 4, patience: 2, period: 1, lr: 1e-2 },
    { trials: 1, epochs: 4, patience: 2, period: 1, lr: 1e-2, guarantee: { kind: 'cost', delta: 0.1, points: 20 } },
  ],
  budgeted: true,
  parse(raw) {
    const r = new ParamReader(SRC, raw);
    const d = this.defaults;
    const p: EENetConfig = {
      trials: r.number('trials', d.trials, { min: 1, integer: true }),
      epochs: r.number('epochs', d.epochs, { min: 1, integer: true }),
      patience: r.number('patience', d.patience, { min: 1, integer: true }),
      batchSize: r.number('batchSize', d.batchSize, { min: 1, integer: true }),
      lr: r.number('lr', d.lr, { min: Number.MIN_VALUE }),
      weightDecay: r.number('weightDecay', d.weightDecay, { min: 0 }),
      period: r.number('period', d.period, { min: 0, integer: true }),
      hiddenRatio: r.number('hiddenRatio', d.hiddenRatio, { min: Number.MIN_VALUE }),
      headOutput: r.choice('headOutput', ['logit', 'sigmoid'] as const, d.headOutput),
      alphaKl: r.number('alphaKl', d.alphaKl, { min: 0 }),
      alphaCost: r.number('alphaCost', d.alphaCost, { min: 0 }),
      betaCe: r.number('betaCe', d.betaCe, { min: Number.MIN_VALUE }),
      costGate: r.number('costGate', d.costGate, { min: Number.MIN_VALUE }),
      selectTolerance: r.number('selectTolerance', d.selectTolerance, { min: Number.MIN_VALUE }),
    };
    const guarantee = parseCostGuarantee(SRC, r.optionalObject('guarantee'));
    r.done();
    return guarantee ? { ...p, guarantee } : p;
  },
  create(params, ctx): Policy {
    return createEENetPolicy(params, ctx);
  },
};
