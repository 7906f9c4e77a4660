/**
 * The serving testbed (experiments/testbed/): real early exit on the shipped TF.js models, the HTTP server's
 * buffer and policy contract, and the open-loop generator. The server runs in this thread; no assertion depends
 * on how fast anything ran (waits poll the server's counters, never compare durations).
 *
 * NSL-KDD checks need the raw dataset (no NSL-KDD record is committed, see experiments/testbed/inputs.ts); they
 * run when ../shared/datasets (or $EXITLAB_DATA) is there and say so when skipped.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { request } from 'node:http';
import { join } from 'node:path';
import { burstyArrivals, type ArrivalConfig } from '../lib/arrivals.ts';
import { InputError } from '../lib/errors.ts';
import { loadTrace } from '../lib/io.ts';
import { simulate } from '../lib/queue.ts';
import { PeekError, type ExitView, type ModelInfo, type Policy, type SystemEvent, type SystemState } from '../lib/policy.ts';
import { Rng } from '../lib/random.ts';
import { BUILTIN_SCORES, scoreTrace } from '../lib/scores.ts';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/tensor.ts';
import type { ExitTrace } from '../lib/trace.ts';
import { fixedExit, REGISTRY } from '../policies/index.ts';
import { createServerPolicy } from '../experiments/testbed/policy.ts';
import { compareMarkdown, meanCi } from '../experiments/testbed/compare.ts';
import { loadBlockModel, type BlockModel } from '../experiments/testbed/blocks.ts';
import { defaultDataDir, fixtureDir, inputRow, loadTestInputs, type TestInputs, type TestbedFixture } from '../experiments/testbed/inputs.ts';
import { runLoad, scheduleInputs, scheduleTimes } from '../experiments/testbed/load.ts';
import { startServer, type InferResponse, type TestbedServer } from '../experiments/testbed/server.ts';

const TOL = 1e-5;
const dataDir = defaultDataDir();

interface Fx {
  readonly model: BlockModel;
  readonly inputs: TestInputs;
  readonly test: ExitTrace;
  readonly info: ModelInfo;
}
const cache = new Map<string, Fx>();
async function fixture(name: TestbedFixture): Promise<Fx> {
  let f = cache.get(name);
  if (!f) {
    await initBackend();
    const test = loadTrace(join(fixtureDir(name), 'manifest.json'), 'test');
    f = {
      model: await loadBlockModel(fixtureDir(name)),
      inputs: loadTestInputs(name, name === 'nsl-kdd-mlp' ? { dataDir } : {}),
      test,
      info: { nExits: test.nExits, nClasses: test.nClasses, costMs: test.costMs, scoreNames: BUILTIN_SCORES },
    };
    cache.set(name, f);
  }
  return f;
}

/** POST one input; resolves with status and parsed body. */
function post(url: string, body: Float32Array, id?: string): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const b = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    const req = request(new URL('/infer', url), { method: 'POST', headers: { 'content-length': b.length, ...(id ? { 'x-request-id': id } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
    });
    req.on('error', reject);
    req.end(b);
  });
}

/** Wait (polling the server's own counters) until `cond` holds. */
async function until(srv: TestbedServer, cond: (s: ReturnType<TestbedServer['stats']>) => boolean): Promise<void> {
  while (!cond(srv.stats())) await new Promise((r) => setTimeout(r, 5));
}

const fixedAt = (k: number, info: ModelInfo): Policy => fixedExit.create({ exit: k }, { rng: new Rng(1), model: info });

const blocks = suite('testbed: real early exit');

blocks('committed sample: 1,000 Fashion-MNIST test inputs whose labels are the recorded test labels of their rows', async () => {
  const { inputs, test } = await fixture('fashion-mnist-cnn');
  assert.ok(inputs.source.startsWith('sample'), inputs.source);
  assert.is(inputs.n, 1000);
  assert.ok(new Set(inputs.testRows).size === 1000 && inputs.testRows.every((r) => r >= 0 && r < test.nSamples));
  for (let i = 0; i < inputs.n; i++) assert.is(inputs.labels[i], test.labels[inputs.testRows[i]], `input ${i} (test row ${inputs.testRows[i]})`);
});

/** Run inputs block by block to the end; max |Δp| against the recorded probabilities of their test rows. */
async function maxDiffAllExits(name: TestbedFixture, count: number): Promise<number> {
  const { model, inputs, test } = await fixture(name);
  const K = test.nExits;
  const C = test.nClasses;
  let diff = 0;
  for (let i = 0; i < count; i++) {
    const row = inputs.testRows[(i * 37) % inputs.n];
    const r = model.start(inputRow(inputs, (i * 37) % inputs.n));
    for (let k = 0; k < K; k++) {
      assert.is(r.next, k);
      const p = r.step();
      for (let c = 0; c < C; c++) diff = Math.max(diff, Math.abs(p[c] - test.probs[(row * K + k) * C + c]));
    }
    r.dispose();
  }
  return diff;
}

blocks('fashion-mnist-cnn: every exit of the split model reproduces the recorded probabilities of the sample', async () => {
  const d = await maxDiffAllExits('fashion-mnist-cnn', 200);
  assert.ok(d < TOL, `max |Δp| = ${d}`);
});

blocks('fashion-mnist-wide: every exit of the split model (two heads on the input itself, then the backbone) reproduces the recorded outputs of the shared sample', async () => {
  const d = await maxDiffAllExits('fashion-mnist-wide', 200);
  assert.ok(d < TOL, `max |Δp| = ${d}`);
});

blocks('nsl-kdd-mlp: every exit reproduces the recorded probabilities of KDDTest+ rows (needs the dataset)', async () => {
  if (!dataDir) {
    console.log('  (skipped: no datasets folder; set EXITLAB_DATA)');
    return;
  }
  const d = await maxDiffAllExits('nsl-kdd-mlp', 300);
  assert.ok(d < TOL, `max |Δp| = ${d}`);
});

blocks('segments are really separate: stopping after exit 0 leaves later segments unrun, and tensors do not leak', async () => {
  const { model, inputs } = await fixture('fashion-mnist-cnn');
  const before = tf.memory().numTensors;
  for (let i = 0; i < 50; i++) {
    const r = model.start(inputRow(inputs, i));
    r.step();
    if (i % 2) r.step();
    r.dispose();
  }
  assert.is(tf.memory().numTensors, before);
  const r = model.start(inputRow(inputs, 0));
  for (let k = 0; k < model.nExits; k++) r.step();
  assert.throws(() => r.step(), /after the last exit/);
  r.dispose();
  assert.throws(() => model.start(new Float32Array(10)), (e: unknown) => e instanceof InputError && /784 floats/.test((e as Error).message));
});

blocks.run();

const srvSuite = suite('testbed: server');

srvSuite('serves the recorded prediction and probabilities of a known input at every exit, with wait and service times', async () => {
  const { model, inputs, test, info } = await fixture('fashion-mnist-cnn');
  const K = test.nExits;
  const C = test.nClasses;
  const scores = scoreTrace(test).scores;
  for (let k = 0; k < K; k++) {
    const srv = await startServer({ model, policy: fixedAt(k, info), bufferCapacity: 4, costMs: info.costMs });
    try {
      for (const i of [0, 17, 999]) {
        const row = inputs.testRows[i];
        const { status, json } = await post(srv.url, inputRow(inputs, i), `req-${i}`);
        const r = json as unknown as InferResponse;
        assert.is(status, 200);
        assert.is(r.id, `req-${i}`);
        assert.is(r.exit, k);
        assert.is(r.prediction, scores.predicted[row * K + k], `input ${i} exit ${k}`);
        for (let c = 0; c < C; c++) assert.ok(Math.abs(r.probs[c] - test.probs[(row * K + k) * C + c]) < TOL, `input ${i} exit ${k} class ${c}`);
        assert.ok(r.waitMs >= 0 && r.serviceMs > 0 && r.arrivalMs >= 0);
        assert.ok(r.computeMs > 0 && r.computeMs <= r.serviceMs, `compute ${r.computeMs} within service ${r.serviceMs}`);
        assert.ok(r.policyMs >= 0 && r.policyMs <= r.computeMs);
      }
      assert.equal(srv.stats().exitCounts, Array.from({ length: K }, (_, j) => (j === k ? 3 : 0)));
    } finally {
      await srv.close();
    }
  }
});

srvSuite('a full buffer answers 503 at once, counts a loss, and tells the policy; the buffered request is served after', async () => {
  const { model, inputs, info } = await fixture('fashion-mnist-cnn');
  const events: SystemEvent[] = [];
  const policy: Policy = { name: 'last+events', commit: () => info.nExits - 1, onEvent: (e) => events.push(e) };
  // Held worker, B = 1: the first request takes the only place; the next two find the buffer full.
  const srv = await startServer({ model, policy, bufferCapacity: 1, costMs: info.costMs, startPaused: true });
  try {
    const first = post(srv.url, inputRow(inputs, 0), 'a');
    await until(srv, (s) => s.arrivals === 1);
    const [b, c] = await Promise.all([post(srv.url, inputRow(inputs, 1), 'b'), post(srv.url, inputRow(inputs, 2), 'c')]);
    // Both answered while the worker is still held: rejection does not wait for service.
    assert.is(b.status, 503);
    assert.is(c.status, 503);
    assert.is(b.json.error, 'buffer full');
    const s = srv.stats();
    assert.is(s.lost, 2);
    assert.is(s.served, 0);
    assert.is(s.queueLength, 1);
    assert.equal(events.filter((e) => e.kind === 'loss').map((e) => (e as { queueLength: number }).queueLength), [1, 1]);
    srv.resume();
    const a = await first;
    assert.is(a.status, 200);
    await until(srv, () => events.some((e) => e.kind === 'idle'));
    assert.equal(srv.records().map((r) => [r.id, r.lost]), [['a', false], ['b', true], ['c', true]]);
  } finally {
    await srv.close();
  }
  // B = 0: with the worker busy (held), every arrival is lost.
  const srv0 = await startServer({ model, policy: fixedAt(0, info), bufferCapacity: 0, costMs: info.costMs, startPaused: true });
  try {
    const r = await post(srv0.url, inputRow(inputs, 0));
    assert.is(r.status, 503);
    assert.is(srv0.stats().lost, 1);
  } finally {
    await srv0.close();
  }
});

srvSuite('commit sees the real queue length and rate estimate; decide sees exits 0..k with lib/scores.ts scores; observe gets the exit', async () => {
  const { model, inputs, test, info } = await fixture('fashion-mnist-cnn');
  const K = test.nExits;
  const scores = scoreTrace(test).scores;
  const states: SystemState[] = [];
  const seen: { exit: number; maxprob: number; entropy: number; patience: number }[] = [];
  const observed: number[] = [];
  // Continues to exit 2 and leaves there; records what each call saw.
  const policy: Policy = {
    name: 'probe',
    commit: (s) => {
      states.push(s);
      return undefined;
    },
    decide: (v: ExitView) => {
      seen.push({ exit: v.exit, maxprob: v.score('maxprob'), entropy: v.score('entropy'), patience: v.score('patience') });
      assert.throws(() => v.score('maxprob', v.exit + 1), (e: unknown) => e instanceof PeekError);
      return v.exit < 2 ? 'continue' : 'exit';
    },
    observe: (f) => observed.push(f.exit),
  };
  const srv = await startServer({ model, policy, bufferCapacity: 5, costMs: info.costMs, startPaused: true });
  try {
    const ids = [3, 4, 5];
    const pending: Promise<unknown>[] = [];
    for (const [j, i] of ids.entries()) {
      pending.push(post(srv.url, inputRow(inputs, i), String(i)));
      await until(srv, (s) => s.arrivals === j + 1);
    }
    srv.resume();
    const res = (await Promise.all(pending)) as { json: InferResponse }[];
    // Three waiting when the worker was released: the first to start leaves two behind, then one, then none.
    assert.equal(states.map((s) => s.queueLength), [2, 1, 0]);
    assert.ok(states.every((s) => s.bufferCapacity === 5 && s.arrivalRatePerMs !== undefined && s.arrivalRatePerMs > 0));
    assert.equal(seen.map((s) => s.exit), [0, 1, 2, 0, 1, 2, 0, 1, 2]);
    seen.forEach((s, j) => {
      const row = inputs.testRows[ids[Math.floor(j / 3)]];
      const at = row * K + s.exit;
      assert.ok(Math.abs(s.maxprob - scores.get('maxprob')[at]) < TOL, `maxprob ${j}`);
      assert.ok(Math.abs(s.entropy - scores.get('entropy')[at]) < TOL, `entropy ${j}`);
      assert.is(s.patience, scores.get('patience')[at]);
    });
    assert.equal(observed, [2, 2, 2]);
    assert.equal(res.map((r) => r.json.exit), [2, 2, 2]);
  } finally {
    await srv.close();
  }
});

srvSuite('a policy that peeks or answers nonsense stops the worker with a contract error (500), not a wrong answer', async () => {
  const { model, inputs, info } = await fixture('fashion-mnist-cnn');
  const peeker: Policy = { name: 'peeker', decide: (v) => (v.probs(v.exit + 1)[0] > 0.5 ? 'exit' : 'continue') };
  const srv = await startServer({ model, policy: peeker, bufferCapacity: 2, costMs: info.costMs });
  try {
    const r = await post(srv.url, inputRow(inputs, 0));
    assert.is(r.status, 500);
    assert.ok(srv.error() instanceof PeekError);
    assert.is((await post(srv.url, inputRow(inputs, 1))).status, 500);
  } finally {
    await srv.close();
  }
  const bad: Policy = { name: 'bad', commit: () => 7 };
  const srv2 = await startServer({ model, policy: bad, bufferCapacity: 2, costMs: info.costMs });
  try {
    assert.is((await post(srv2.url, inputRow(inputs, 0))).status, 500);
    assert.match(srv2.error()!.message, /commit\(\) returned 7/);
  } finally {
    await srv2.close();
  }
});

srvSuite('every registry policy serves through the contract (created and fitted as the testbed does)', async () => {
  const { model, inputs, info } = await fixture('fashion-mnist-cnn');
  const validation = scoreTrace(loadTrace(join(fixtureDir('fashion-mnist-cnn'), 'manifest.json'), 'validation'));
  const c = info.costMs;
  for (const spec of REGISTRY) {
    const params = spec.testParams(info)[0] ?? {};
    const policy = await createServerPolicy({ name: spec.name, params }, { seed: 3, model: info, validation, budgetMs: spec.budgeted ? (c[0] + c[c.length - 1]) / 2 : undefined });
    const srv = await startServer({ model, policy, bufferCapacity: 3, costMs: c });
    try {
      for (let i = 0; i < 12; i++) {
        const r = await post(srv.url, inputRow(inputs, i * 11));
        assert.is(r.status, 200, `${spec.name}: ${JSON.stringify(r.json)}`);
        assert.ok(Number.isInteger(r.json.exit) && (r.json.exit as number) >= 0 && (r.json.exit as number) < info.nExits);
      }
      assert.is(srv.error(), undefined);
      assert.is(srv.stats().served, 12);
    } finally {
      await srv.close();
    }
  }
});

srvSuite('loopback only, and malformed bodies are 400s that are not arrivals', async () => {
  const { model, info } = await fixture('fashion-mnist-cnn');
  await startServer({ model, policy: fixedAt(0, info), bufferCapacity: 1, costMs: info.costMs, host: '0.0.0.0' }).then(
    () => assert.unreachable('bound 0.0.0.0'),
    (e: unknown) => assert.ok(e instanceof InputError && e.field === 'host'),
  );
  const srv = await startServer({ model, policy: fixedAt(0, info), bufferCapacity: 1, costMs: info.costMs });
  try {
    const r = await post(srv.url, new Float32Array(5));
    assert.is(r.status, 400);
    assert.match(String(r.json.error), /3136 bytes/);
    assert.is(srv.stats().arrivals, 0);
    assert.is(srv.stats().badRequests, 1);
  } finally {
    await srv.close();
  }
  await runLoad({ url: 'http://10.1.2.3:80', arrivals: { kind: 'poisson', ratePerMs: 1 }, seed: 1, maxRequests: 1, timeLimitMs: 10, inputs: (await fixture('fashion-mnist-cnn')).inputs }).then(
    () => assert.unreachable('non-loopback URL accepted'),
    (e: unknown) => assert.ok(e instanceof InputError && e.field === 'url'),
  );
});

srvSuite.run();

const gen = suite('testbed: open-loop generator');

/** Kolmogorov–Smirnov statistic of a sample against a CDF. */
function ks(xs: Float64Array, cdf: (x: number) => number): number {
  const s = Float64Array.from(xs).sort();
  let d = 0;
  for (let i = 0; i < s.length; i++) {
    const f = cdf(s[i]);
    d = Math.max(d, (i + 1) / s.length - f, f - i / s.length);
  }
  return d;
}
const gapsOf = (t: Float64Array): Float64Array => Float64Array.from(t, (x, i) => (i === 0 ? x : x - t[i - 1]));

/**
 * Stationary inter-arrival CDF of a two-state MMPP (a phase-type law): F(t) = 1 − π_a·exp(D₀t)·1, with
 * D₀ = Q − diag(λ), π_a = π·diag(λ)/(π·λ) the state seen by an arrival, π the time-stationary state. exp(D₀t)
 * for a 2×2 matrix with real eigenvalues a ± δ: e^{at}[cosh(δt)·I + sinh(δt)/δ·(D₀ − aI)].
 */
function mmppGapCdf(c: Extract<ArrivalConfig, { kind: 'mmpp2' }>): (t: number) => number {
  const [l0, l1] = c.ratesPerMs;
  const [r0, r1] = [1 / c.meanSojournMs[0], 1 / c.meanSojournMs[1]];
  const m = [-r0 - l0, r0, r1, -r1 - l1];
  const pi = [r1 / (r0 + r1), r0 / (r0 + r1)];
  const pa = [pi[0] * l0, pi[1] * l1];
  const z = pa[0] + pa[1];
  const a = (m[0] + m[3]) / 2;
  const delta = Math.sqrt(((m[0] - m[3]) / 2) ** 2 + m[1] * m[2]);
  return (t) => {
    const ch = Math.cosh(delta * t);
    const sh = Math.sinh(delta * t) / delta;
    const e = [ch + sh * (m[0] - a), sh * m[1], sh * m[2], ch + sh * (m[3] - a)].map((v) => v * Math.exp(a * t));
    return 1 - ((pa[0] / z) * (e[0] + e[1]) + (pa[1] / z) * (e[2] + e[3]));
  };
}

gen('Poisson schedule: inter-arrival times pass KS against Exp(λ) and fail it against a wrong rate', () => {
  const rate = 2.5;
  const gaps = gapsOf(scheduleTimes({ kind: 'poisson', ratePerMs: rate }, 7, 20000));
  // 1% critical value of the one-sample KS statistic: 1.628/√n.
  const crit = 1.628 / Math.sqrt(gaps.length);
  const d = ks(gaps, (x) => 1 - Math.exp(-rate * x));
  assert.ok(d < crit, `D = ${d} ≥ ${crit}`);
  assert.ok(ks(gaps, (x) => 1 - Math.exp(-rate * 1.1 * x)) > crit, 'a 10% wrong rate is not detected');
});

gen('bursty (MMPP2) schedule: inter-arrival times fit the phase-type law and reject a Poisson of the same mean', () => {
  const cfg = burstyArrivals(1.0) as Extract<ArrivalConfig, { kind: 'mmpp2' }>;
  const gaps = gapsOf(scheduleTimes(cfg, 3, 200000));
  const cdf = mmppGapCdf(cfg);
  // Gaps of an MMPP are correlated (runs in the busy state), so the i.i.d. critical value is too strict; 1,000
  // calm/busy cycles in 200,000 arrivals still pin the mixture down to about ±1.5% in the state shares.
  const d = ks(gaps, cdf);
  assert.ok(d < 0.02, `D = ${d} against the MMPP2 law`);
  const dPoisson = ks(gaps, (x) => 1 - Math.exp(-1.0 * x));
  assert.ok(dPoisson > 0.1, `D = ${dPoisson} against Exp(mean rate): burstiness not visible`);
});

gen('same seed → the simulator\'s own arrival times and input draws', async () => {
  const { inputs, test, info } = await fixture('fashion-mnist-cnn');
  for (const arrivals of [{ kind: 'poisson', ratePerMs: 0.5 }, burstyArrivals(2)] as ArrivalConfig[]) {
    const n = 500;
    const { records } = simulate(fixedAt(0, info), scoreTrace(test), { bufferCapacity: n, arrivals, maxArrivals: n, seed: 9, records: true });
    assert.equal(Array.from(scheduleTimes(arrivals, 9, n)), Array.from(records!.arrivalMs));
    // The simulator draws samples uniformly over its trace's N; the generator over the inputs it has.
    assert.equal(Array.from(scheduleInputs(test.nSamples, 9, n)), Array.from(records!.sample));
    assert.not.equal(Array.from(scheduleTimes(arrivals, 9, n)), Array.from(scheduleTimes(arrivals, 10, n)));
  }
  assert.ok(inputs.n > 0);
});

gen('the generator sends open loop: every request reaches a server that answers none, at its scheduled time order', async () => {
  const { model, inputs, info } = await fixture('fashion-mnist-cnn');
  const arrivals: ArrivalConfig = { kind: 'poisson', ratePerMs: 0.5 };
  const n = 40;
  const srv = await startServer({ model, policy: fixedAt(1, info), bufferCapacity: n, costMs: info.costMs, startPaused: true });
  try {
    const run = runLoad({ url: srv.url, arrivals, seed: 5, maxRequests: n, timeLimitMs: 60000, inputs });
    // Every request arrives while the held server has answered none: sending never waits for answers.
    await until(srv, (s) => s.arrivals === n);
    assert.is(srv.stats().served, 0);
    srv.resume();
    const r = await run;
    assert.is(r.sent, n);
    assert.is(r.ok, n);
    assert.is(r.rejected + r.errors + r.timedOut, 0);
    assert.equal(r.records.map((x) => x.scheduledMs), Array.from(scheduleTimes(arrivals, 5, n)));
    assert.equal(r.records.map((x) => x.input), Array.from(scheduleInputs(inputs.n, 5, n)));
    assert.ok(r.records.every((x) => x.lateMs >= 0 && x.responseMs > 0 && x.exit === 1));
    // Server-side arrival order is the schedule's order (ids are the schedule index).
    assert.equal(srv.records().map((x) => Number(x.id)), Array.from({ length: n }, (_, i) => i));
    const correct = r.records.filter((x) => x.prediction === inputs.labels[x.input]).length;
    assert.is(r.records.reduce((a, x) => a + x.correct, 0), correct);
  } finally {
    await srv.close();
  }
});

gen('bounded: the time limit cuts the schedule and says so', async () => {
  const { model, inputs, info } = await fixture('fashion-mnist-cnn');
  const srv = await startServer({ model, policy: fixedAt(0, info), bufferCapacity: 100, costMs: info.costMs });
  try {
    // 1 request per 10 ms for at most 50 ms of schedule: about 5 of the 1,000 allowed.
    const r = await runLoad({ url: srv.url, arrivals: { kind: 'poisson', ratePerMs: 0.1 }, seed: 2, maxRequests: 1000, timeLimitMs: 50, inputs });
    assert.ok(r.stoppedByTimeLimit);
    assert.is(r.sent, scheduleTimes({ kind: 'poisson', ratePerMs: 0.1 }, 2, 1000, 50).length);
    assert.ok(r.sent < 1000);
  } finally {
    await srv.close();
  }
});

gen.run();

const cmp = suite('testbed: real vs simulated table');

cmp('marks a simulated mean inside the real 95% interval over seeds with ✓ and outside with ✗', () => {
  const rec = (seed: number, loss: number, sim: number) => ({
    trace: 't', model: 'm', label: 'plain', axes: { arrivals: 'poisson', bufferSize: 10, lambdaOverMu: 1 }, seed,
    metrics: { lossRatio: loss, simLossRatio: sim, simInRunLossRatio: 0.9, p95ResponseMs: 1, simP95ResponseMs: 1, simInRunP95ResponseMs: 1, accuracyOverall: 0.5, simAccuracyOverall: 0.5, simInRunAccuracyOverall: 0.5 },
  });
  // Real losses 0.1, 0.2, 0.3: mean 0.2, sd 0.1, half-width 4.303 · 0.1/√3 = 0.248.
  const md = compareMarkdown([rec(1, 0.1, 0.3), rec(2, 0.2, 0.3), rec(3, 0.3, 0.3)]);
  assert.match(md, /0\.200 ± 0\.248 \| 0\.300 ✓ \| 0\.900 ✗/);
  assert.match(md, /loss ratio: calibrated simulation inside the real interval in 1 of 1 cells; in-run simulation in 0 of 1/);
  assert.equal(meanCi([1]).half, NaN);
});

cmp.run();
