/**
 * The testbed's two command-line tools, as functions of their argument lists so a CLI can mount them
 * (`exitlab serve`, `exitlab load`) and they can also run alone:
 *
 * (`exitlab serve` / `exitlab load` in the CLI take the same options.)
 *
 *   npx tsx experiments/testbed/commands.ts serve --fixture fashion-mnist-wide --policy reactive [--params '{}']
 *       [--buffer 10] [--port 8080] [--host 127.0.0.1] [--seed 1] [--budget-fraction 0.5] [--data DIR]
 *   npx tsx experiments/testbed/commands.ts load --url http://127.0.0.1:8080 --fixture fashion-mnist-wide
 *       --rate 1000 [--arrivals poisson|bursty|replay:FILE] [--requests 10000] [--time-limit 60] [--seed 1]
 *       [--data DIR] [--out records.jsonl]
 *
 * `serve` measures the per-exit service times on its own thread first (the policy plans with them), then
 * listens until SIGINT/SIGTERM and prints its counters. `load` prints a summary and optionally writes one JSON
 * line per request.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { burstyArrivals, type ArrivalConfig } from '../../lib/arrivals.ts';
import { InputError } from '../../lib/errors.ts';
import { loadTrace } from '../../lib/io.ts';
import { BUILTIN_SCORES, scoreTrace } from '../../lib/scores.ts';
import { initBackend } from '../../lib/tensor.ts';
import { ExitTrace } from '../../lib/trace.ts';
import { loadBlockModel } from './blocks.ts';
import { checkFixture, defaultDataDir, fixtureDir, inputRow, loadTestInputs } from './inputs.ts';
import { runLoad } from './load.ts';
import { measureServiceTimes, ProcessMonitor, summarise } from './monitor.ts';
import { createServerPolicy } from './policy.ts';
import { startServer } from './server.ts';

function num(name: string, v: string | undefined, fallback: number, opts: { integer?: boolean; min?: number } = {}): number {
  if (v === undefined) return fallback;
  const x = Number(v);
  if (!Number.isFinite(x) || (opts.integer && !Number.isInteger(x)) || x < (opts.min ?? -Infinity)) {
    throw new InputError('command line', `--${name}`, `${opts.integer ? 'an integer' : 'a number'}${opts.min !== undefined ? ` ≥ ${opts.min}` : ''}`, JSON.stringify(v));
  }
  return x;
}

/** Options of `serve`, as strings from a command line (validated here, each error naming its option). */
export interface ServeFlags {
  readonly fixture?: string;
  readonly policy?: string;
  /** JSON object of policy parameters. */
  readonly params?: string;
  readonly buffer?: string;
  readonly port?: string;
  readonly host?: string;
  readonly seed?: string;
  readonly budgetFraction?: string;
  readonly data?: string;
  /** Timed passes of the service-time calibration. */
  readonly calibrate?: string;
}

/** Options of `load`, as strings from a command line. */
export interface LoadFlags {
  readonly url?: string;
  readonly fixture?: string;
  /** Mean request rate, requests/s. */
  readonly rate?: string;
  /** poisson, bursty or replay:FILE. */
  readonly arrivals?: string;
  readonly requests?: string;
  /** Seconds. */
  readonly timeLimit?: string;
  readonly seed?: string;
  readonly data?: string;
  /** Write one JSON line per request here. */
  readonly out?: string;
}

/** `serve`: run a testbed server in this process until SIGINT/SIGTERM. */
export async function serveCommand(flags: ServeFlags): Promise<void> {
  const values = { ...flags, fixture: flags.fixture ?? 'fashion-mnist-wide', policy: flags.policy ?? 'fixed-exit', 'budget-fraction': flags.budgetFraction };
  const fixture = checkFixture(values.fixture, 'command line --fixture');
  let params: Record<string, unknown> = {};
  if (values.params !== undefined) {
    try {
      params = JSON.parse(values.params);
    } catch {
      throw new InputError('command line', '--params', 'a JSON object of policy parameters', JSON.stringify(values.params));
    }
  }
  const dataDir = values.data ?? (fixture === 'nsl-kdd-mlp' ? defaultDataDir() : undefined);
  const backend = await initBackend();
  const model = await loadBlockModel(fixtureDir(fixture));
  const inputs = loadTestInputs(fixture, { dataDir });
  const profile = await measureServiceTimes(model, (i) => inputRow(inputs, (i * 7919) % inputs.n), num('calibrate', values.calibrate, 500, { integer: true, min: 1 }));
  const costMs = profile.meanMs;
  const K = costMs.length;
  const v = loadTrace(join(fixtureDir(fixture), 'manifest.json'), 'validation');
  const validation = scoreTrace(new ExitTrace({ nSamples: v.nSamples, nExits: K, nClasses: v.nClasses, probs: v.probs, labels: v.labels, costMs, classNames: v.classNames, provenance: v.provenance }));
  const bf = values['budget-fraction'] === undefined ? undefined : num('budget-fraction', values['budget-fraction'], 0.5, { min: 0 });
  const policy = await createServerPolicy({ name: values.policy!, params }, {
    seed: num('seed', values.seed, 1, { integer: true }), model: { nExits: K, nClasses: v.nClasses, costMs, scoreNames: BUILTIN_SCORES }, validation,
    budgetMs: bf === undefined ? undefined : costMs[0] + bf * (costMs[K - 1] - costMs[0]),
  });
  const srv = await startServer({ model, policy, bufferCapacity: num('buffer', values.buffer, 10, { integer: true, min: 0 }), costMs, host: values.host, port: num('port', values.port, 8080, { integer: true, min: 0 }) });
  console.log(`${fixture} on ${backend.name}: measured cumulative ms per exit ${costMs.map((c) => c.toFixed(3)).join(', ')} (μ = ${(1000 / costMs[K - 1]).toFixed(0)} requests/s for the full network)`);
  const mon = new ProcessMonitor();
  mon.start();
  console.log(`serving ${policy.name} at ${srv.url}/infer (B = ${srv.stats().bufferCapacity}; inputs: ${model.inputSize} float32 little-endian) — Ctrl-C stops`);
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await srv.close();
  console.log(JSON.stringify({ ...srv.stats(), process: await mon.stop() }));
}

function arrivalsFrom(kind: string, ratePerMs: number): ArrivalConfig {
  if (kind === 'poisson') return { kind: 'poisson', ratePerMs };
  if (kind === 'bursty') return burstyArrivals(ratePerMs);
  if (kind.startsWith('replay:')) return { kind: 'replay', file: kind.slice('replay:'.length) };
  throw new InputError('command line', '--arrivals', 'poisson, bursty or replay:FILE (timestamps in ms, one per line or a 1-D .npy)', JSON.stringify(kind));
}

/** `load`: drive a running testbed server open loop and summarise. */
export async function loadCommand(flags: LoadFlags): Promise<void> {
  const values = { ...flags, url: flags.url ?? 'http://127.0.0.1:8080', fixture: flags.fixture ?? 'fashion-mnist-wide', arrivals: flags.arrivals ?? 'poisson', 'time-limit': flags.timeLimit };
  const fixture = checkFixture(values.fixture, 'command line --fixture');
  const kind = values.arrivals!;
  if (values.rate === undefined && !kind.startsWith('replay:')) throw new InputError('command line', '--rate', 'the mean request rate in requests/s');
  const rate = num('rate', values.rate, 1, { min: Number.MIN_VALUE });
  const inputs = loadTestInputs(fixture, { dataDir: values.data ?? (fixture === 'nsl-kdd-mlp' ? defaultDataDir() : undefined) });
  const r = await runLoad({
    url: values.url!, arrivals: arrivalsFrom(kind, rate / 1000), seed: num('seed', values.seed, 1, { integer: true }),
    maxRequests: num('requests', values.requests, 10000, { integer: true, min: 1 }), timeLimitMs: num('time-limit', values['time-limit'], 60, { min: 0 }) * 1000, inputs,
  });
  const ok = r.records.filter((x) => x.status === 200);
  const resp = summarise(ok.map((x) => x.responseMs));
  const late = summarise(r.records.map((x) => x.lateMs));
  const correct = ok.reduce((a, x) => a + x.correct, 0);
  console.log(`sent ${r.sent}${r.stoppedByTimeLimit ? ' (time limit)' : ''}: ${r.ok} served, ${r.rejected} lost (503, ${((100 * r.rejected) / Math.max(1, r.sent)).toFixed(2)}%), ${r.errors} errors, ${r.timedOut} unanswered; ${r.connections} connections`);
  console.log(`response ms from the scheduled send: p50 ${resp.p50Ms.toFixed(3)}, p95 ${resp.p95Ms.toFixed(3)}, p99 ${resp.p99Ms.toFixed(3)}, max ${resp.maxMs.toFixed(3)}; sent late by p50 ${late.p50Ms.toFixed(3)}, p99 ${late.p99Ms.toFixed(3)} ms`);
  console.log(`accuracy served ${(correct / Math.max(1, ok.length)).toFixed(4)}, overall ${(correct / Math.max(1, ok.length + r.rejected)).toFixed(4)}; throughput ${((r.ok / r.elapsedMs) * 1000).toFixed(1)} requests/s`);
  if (values.out) writeFileSync(values.out, r.records.map((x) => JSON.stringify(x)).join('\n') + '\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [cmd, ...rest] = process.argv.slice(2);
  const { values } = parseArgs({
    args: rest,
    options: Object.fromEntries(
      ['fixture', 'policy', 'params', 'buffer', 'port', 'host', 'seed', 'budget-fraction', 'data', 'calibrate', 'url', 'rate', 'arrivals', 'requests', 'time-limit', 'out'].map((k) => [k, { type: 'string' as const }]),
    ),
  });
  const flags = { ...values, budgetFraction: values['budget-fraction'], timeLimit: values['time-limit'] } as ServeFlags & LoadFlags;
  if (cmd === 'serve') await serveCommand(flags);
  else if (cmd === 'load') await loadCommand(flags);
  else throw new InputError('command line', 'command', 'serve or load', JSON.stringify(cmd));
}
