/**
 * The server side of `TestbedHost`, run in a worker thread so that the model worker has a core of its own and
 * the load generator (on the parent thread) does not steal its time. Keeps each fixture's model, inputs and
 * validation trace loaded across cells; one server listens at a time. Messages: see `HostRequest`.
 */
import { parentPort } from 'node:worker_threads';
import { join } from 'node:path';
import { loadTrace } from '../../lib/io.ts';
import { initBackend, type BackendInfo } from '../../lib/tensor.ts';
import { BUILTIN_SCORES, scoreTrace } from '../../lib/scores.ts';
import { ExitTrace } from '../../lib/trace.ts';
import { loadBlockModel, type BlockModel } from './blocks.ts';
import { fixtureDir, inputRow, loadTestInputs, type TestInputs, type TestbedFixture } from './inputs.ts';
import { measureServiceTimes, ProcessMonitor } from './monitor.ts';
import { createServerPolicy } from './policy.ts';
import { startServer, type TestbedServer } from './server.ts';
import type { HostReply, HostRequest } from './host.ts';

const port = parentPort;
if (!port) throw new Error('experiments/testbed/host-thread.ts must run in a worker thread');

interface Loaded {
  readonly model: BlockModel;
  readonly inputs: TestInputs;
  readonly validation: ExitTrace;
}
const loaded = new Map<string, Loaded>();
let backend: BackendInfo | undefined;
let server: { srv: TestbedServer; monitor: ProcessMonitor } | undefined;

async function load(fixture: TestbedFixture, dataDir: string | undefined): Promise<Loaded> {
  const key = `${fixture}\0${dataDir ?? ''}`;
  let l = loaded.get(key);
  if (!l) {
    backend ??= await initBackend();
    const dir = fixtureDir(fixture);
    l = { model: await loadBlockModel(dir), inputs: loadTestInputs(fixture, { dataDir }), validation: loadTrace(join(dir, 'manifest.json'), 'validation') };
    loaded.set(key, l);
  }
  return l;
}

async function handle(msg: HostRequest): Promise<HostReply> {
  switch (msg.op) {
    case 'calibrate': {
      const l = await load(msg.fixture, msg.dataDir);
      const n = l.inputs.n;
      const profile = await measureServiceTimes(l.model, (i) => inputRow(l.inputs, (i * 7919) % n), msg.passes, msg.warmup);
      return { op: 'calibrate', profile, backend: backend!, inputSource: l.inputs.source };
    }
    case 'start': {
      if (server) throw new Error('testbed host: a server is already running; stop it first');
      const l = await load(msg.fixture, msg.dataDir);
      const v = l.validation;
      // Policies plan with the costs measured on this server, so the validation trace they fit on carries them.
      const validation = scoreTrace(new ExitTrace({ nSamples: v.nSamples, nExits: v.nExits, nClasses: v.nClasses, probs: v.probs, labels: v.labels, costMs: msg.costMs, classNames: v.classNames, provenance: v.provenance }));
      const policy = await createServerPolicy(msg.policy, { seed: msg.seed, model: { nExits: v.nExits, nClasses: v.nClasses, costMs: msg.costMs, scoreNames: BUILTIN_SCORES }, validation, budgetMs: msg.budgetMs });
      const monitor = new ProcessMonitor();
      const srv = await startServer({ model: l.model, policy, bufferCapacity: msg.bufferCapacity, costMs: msg.costMs, port: msg.port ?? 0 });
      monitor.start();
      server = { srv, monitor };
      return { op: 'start', url: srv.url, policyName: policy.name };
    }
    case 'stop': {
      if (!server) throw new Error('testbed host: no server running');
      const { srv, monitor } = server;
      server = undefined;
      const process = await monitor.stop();
      await srv.close();
      return { op: 'stop', stats: srv.stats(), records: [...srv.records()], process, error: srv.error()?.message };
    }
  }
}

port.on('message', (msg: HostRequest & { seq: number }) => {
  handle(msg).then(
    (reply) => port.postMessage({ seq: msg.seq, reply }),
    (err: unknown) => port.postMessage({ seq: msg.seq, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }),
  );
});
