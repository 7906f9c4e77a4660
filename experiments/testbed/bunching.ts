/**
 * Why real losses exceed the simulator's at light load: arrivals *as the server sees them*. The generator sends
 * on schedule (Poisson), but whenever the server's thread is off the CPU (GC pause, another process on the core,
 * a long synchronous stretch) requests pile up in the socket and are read in one burst when it runs again; a
 * burst larger than B is lost even though the worker is idle most of the time. This script serves the plain
 * network at one λ/μ, then compares the server-side inter-arrival times with the schedule's:
 * - the share of gaps under 0.05 ms (Poisson at rate λ: 1 − exp(−0.05λ));
 * - the CV of the gaps (Poisson: 1);
 * - how many lost requests arrived within 0.5 ms of at least B other arrivals (a burst).
 *
 *   npx tsx experiments/testbed/bunching.ts [--fixture fashion-mnist-cnn] [--rho 0.5] [--requests 3000] [--data DIR]
 */
import { parseArgs } from 'node:util';
import { TestbedHost } from './host.ts';
import { checkFixture, defaultDataDir, loadTestInputs } from './inputs.ts';
import { runLoad, scheduleTimes } from './load.ts';
import { summarise } from './monitor.ts';

const { values } = parseArgs({ options: { fixture: { type: 'string', default: 'fashion-mnist-cnn' }, rho: { type: 'string', default: '0.5' }, requests: { type: 'string', default: '3000' }, data: { type: 'string' }, seed: { type: 'string', default: '1' } } });
const fixture = checkFixture(values.fixture, 'command line --fixture');
const dataDir = fixture === 'nsl-kdd-mlp' ? (values.data ?? defaultDataDir()) : undefined;
const n = Number(values.requests);
const seed = Number(values.seed);
const B = 10;
const host = new TestbedHost();
const cal = await host.request({ op: 'calibrate', fixture, dataDir, passes: 500, warmup: 100 });
const inputs = loadTestInputs(fixture, { dataDir });
// Capacity as in run.ts: a burst of plain-network requests into a large buffer.
const probeStart = await host.request({ op: 'start', fixture, dataDir, policy: { name: 'fixed-exit', params: { exit: -1 } }, seed, bufferCapacity: 400, costMs: cal.profile.meanMs });
await runLoad({ url: probeStart.url, arrivals: { kind: 'deterministic', intervalMs: 1e-3 }, seed, maxRequests: 400, timeLimitMs: 30000, inputs });
const probe = await host.request({ op: 'stop' });
const done = probe.records.filter((r) => !r.lost);
const msPerRequest = (Math.max(...done.map((r) => r.endMs)) - Math.min(...done.map((r) => r.startMs))) / done.length;
const lambda = Number(values.rho) / msPerRequest;
const arrivals = { kind: 'poisson' as const, ratePerMs: lambda };
const started = await host.request({ op: 'start', fixture, dataDir, policy: { name: 'fixed-exit', params: { exit: -1 } }, seed, bufferCapacity: B, costMs: cal.profile.meanMs });
const load = await runLoad({ url: started.url, arrivals, seed, maxRequests: n, timeLimitMs: 60000, inputs });
const stopped = await host.request({ op: 'stop' });
await host.close();

const gapsOf = (t: ArrayLike<number>): number[] => Array.from({ length: t.length - 1 }, (_, i) => t[i + 1] - t[i]);
const sched = gapsOf(scheduleTimes(arrivals, seed, n));
const seen = stopped.records.map((r) => r.arrivalMs);
const srv = gapsOf(seen);
const cv = (g: number[]): number => {
  const s = summarise(g);
  return s.sdMs / s.meanMs;
};
const small = (g: number[]): number => g.filter((x) => x < 0.05).length / g.length;
// Lost requests inside a burst: at least B other arrivals within ±0.5 ms.
let inBurst = 0;
const lostIdx = stopped.records.flatMap((r, i) => (r.lost ? [i] : []));
for (const i of lostIdx) {
  let near = 0;
  for (let j = i - 1; j >= 0 && seen[i] - seen[j] <= 0.5; j--) near++;
  for (let j = i + 1; j < seen.length && seen[j] - seen[i] <= 0.5; j++) near++;
  if (near >= B) inBurst++;
}
const p = stopped.process;
console.log(`${fixture}, plain network, λ/μ = ${values.rho} (μ = ${(1000 / msPerRequest).toFixed(0)}/s, λ = ${(lambda * 1000).toFixed(0)}/s), B = ${B}, ${load.sent} requests`);
console.log(`loss ${(load.rejected / load.sent).toFixed(3)}; server busy ${(stopped.stats.busyMs / p.windowMs).toFixed(3)} of the time; server thread got ${(p.cpuMs / p.windowMs).toFixed(3)} of a core`);
console.log(`inter-arrival gaps < 0.05 ms: schedule ${small(sched).toFixed(3)} (Poisson: ${(1 - Math.exp(-0.05 * lambda)).toFixed(3)}), at the server ${small(srv).toFixed(3)}`);
console.log(`gap CV: schedule ${cv(sched).toFixed(2)}, at the server ${cv(srv).toFixed(2)}; largest gap at the server ${Math.max(...srv).toFixed(1)} ms`);
console.log(`lost requests inside a burst (≥ ${B} others within ±0.5 ms): ${inBurst} of ${lostIdx.length}`);
console.log(`server GC ${p.gcCount} pauses, max ${p.gcMaxMs.toFixed(1)} ms; loop delay p99 ${p.loopDelayP99Ms.toFixed(1)} ms, max ${p.loopDelayMaxMs.toFixed(1)} ms; generator late p99 ${summarise(load.records.map((r) => r.lateMs)).p99Ms.toFixed(1)} ms`);
