/**
 * Service-time measurements on the testbed server (issue 19, "what you measured about the server"):
 * 1. calibration: the per-exit cumulative service-time distribution, measured by full block-by-block passes on
 *    the server thread (mean, sd, p50/p95/p99, max, pooled CV), with the GC pauses (PerformanceObserver 'gc')
 *    and event-loop delay (monitorEventLoopDelay) of that window;
 * 2. in service: the service times the server reports for requests served under a light open-loop load
 *    (λ/μ = 0.5, plain network, B = 10), i.e. with HTTP parsing and responses interleaved on the same thread;
 * 3. the generator's own ceiling: requests per second it sends to a server that answers at once.
 *
 *   npx tsx experiments/testbed/bench-service.ts [--passes 2000] [--requests 4000] [--data ../shared/datasets] [--out FILE.json]
 *
 * Run with `node --expose-gc --import tsx` to force a full collection before each window (then the numbers
 * show the pauses the window itself caused).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { TestbedHost } from './host.ts';
import { defaultDataDir, loadTestInputs, TESTBED_FIXTURES } from './inputs.ts';
import { runLoad } from './load.ts';
import { summarise, type DurationSummary } from './monitor.ts';
import { runTestbed } from './run.ts';

const { values } = parseArgs({ options: { passes: { type: 'string', default: '2000' }, requests: { type: 'string', default: '4000' }, data: { type: 'string' }, out: { type: 'string' } } });
const passes = Number(values.passes);
const requests = Number(values.requests);
const dataDir = values.data ?? defaultDataDir();
const fmt = (x: number, d = 3): string => (Number.isFinite(x) ? x.toFixed(d) : '—');
const row = (s: DurationSummary): string => `${fmt(s.meanMs)} | ${fmt(s.sdMs)} | ${fmt(s.p50Ms)} | ${fmt(s.p95Ms)} | ${fmt(s.p99Ms)} | ${fmt(s.maxMs)}`;

const out: Record<string, unknown> = { date: new Date().toISOString(), cpu: cpus()[0]?.model, logicalCpus: cpus().length, loadavgAtStart: loadavg(), node: process.version, passes, requests, dataDir: dataDir ?? null };
const host = new TestbedHost();
(globalThis as { gc?: () => void }).gc?.();
for (const fixture of TESTBED_FIXTURES) {
  if (fixture === 'nsl-kdd-mlp' && !dataDir) {
    console.log(`${fixture}: skipped (no datasets folder; --data)`);
    continue;
  }
  const dd = fixture === 'nsl-kdd-mlp' ? dataDir : undefined;
  const cal = await host.request({ op: 'calibrate', fixture, dataDir: dd, passes, warmup: 200 });
  const p = cal.profile;
  console.log(`\n${fixture} (backend ${cal.backend.name}, ${passes} passes, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')})`);
  console.log('calibration, cumulative ms to exit k: exit | mean | sd | p50 | p95 | p99 | max');
  p.perExit.forEach((s, k) => console.log(`  ${k} | ${row(s)}`));
  console.log(`  pooled CV ${fmt(p.cv)}; GC ${p.process.gcCount} pauses, total ${fmt(p.process.gcTotalMs)} ms, max ${fmt(p.process.gcMaxMs)} ms over ${fmt(p.process.windowMs, 0)} ms; loop delay p99 ${fmt(p.process.loopDelayP99Ms)} ms, max ${fmt(p.process.loopDelayMaxMs)} ms`);
  // In service: plain network under light load, service times as the server reported them.
  const r = await runTestbed({ fixture, policy: { name: 'fixed-exit', params: { exit: -1 } }, lambdaOverMu: 0.5, bufferCapacity: 10, arrivals: 'poisson', seed: 1, requests, timeLimitMs: 60000, calibrationPasses: 500, dataDir: dd, host });
  const m = r.metrics;
  console.log(`in service (λ/μ = 0.5, plain, B = 10, ${m.requests} requests): mean service ${fmt(m.meanServiceMs)} ms (own compute ${fmt(m.meanComputeMs)} ms) vs calibrated ${fmt(r.profile.meanMs[r.profile.meanMs.length - 1])} ms; loss ${fmt(m.lossRatio)} (sim ${fmt(m.simLossRatio)}); p95 response ${fmt(m.p95ResponseMs)} ms (sim ${fmt(m.simP95ResponseMs)}); generator late p50/p99 ${fmt(m.lateP50Ms)}/${fmt(m.lateP99Ms)} ms; server GC ${m.gcCount} pauses, max ${fmt(m.gcMaxMs)} ms; loop delay p99 ${fmt(m.loopDelayP99Ms)} ms`);
  out[fixture] = { backend: cal.backend.name, calibration: p, inService: { metrics: m, inRunCostMs: r.inRunCostMs, calibratedCostMs: r.profile.meanMs } };
}
await host.close();

// Generator ceiling: a server that answers 200 at once, requests every 20 µs (far above what it can send).
const inputs = loadTestInputs('fashion-mnist-cnn');
const echo = createServer({ keepAlive: true }, (req, res) => {
  req.resume();
  req.on('end', () => res.end('{"exit":0,"prediction":0,"waitMs":0,"serviceMs":0}'));
});
await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
const url = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
const g = await runLoad({ url, arrivals: { kind: 'deterministic', intervalMs: 0.02 }, seed: 1, maxRequests: 20000, timeLimitMs: 30000, inputs });
echo.close();
echo.closeAllConnections();
const sendSpan = g.records[g.records.length - 1].scheduledMs + g.records[g.records.length - 1].lateMs - (g.records[0].scheduledMs + g.records[0].lateMs);
const late = summarise(g.records.map((x) => x.lateMs));
console.log(`\ngenerator ceiling (same process as an instant server): ${g.sent} requests sent in ${fmt(sendSpan, 0)} ms = ${fmt((g.sent / sendSpan) * 1000, 0)} requests/s; ${g.connections} connections`);
out.generator = { sent: g.sent, sendSpanMs: sendSpan, sendRatePerS: (g.sent / sendSpan) * 1000, connections: g.connections, lateMs: late };
if (values.out) writeFileSync(values.out, JSON.stringify(out, null, 2) + '\n');
