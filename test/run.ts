/**
 * Runs every `test/*.test.ts` suite with uvu, then prints uvu's own totals as the closing line
 * `N passed, N failed` that CI reads. The counts are parsed from uvu's "Total:"/"Passed:" summary, so they are
 * the runner's numbers, not ours. Exit code: uvu's (non-zero on any failure), or 1 if a file failed to load.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from 'uvu/run';

const dir = dirname(fileURLToPath(import.meta.url));
const filter = process.argv[2];
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.test.ts') && (!filter || f.includes(filter)))
  .sort();

let captured = '';
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
  captured += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
  return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stdout.write;

try {
  await run(files.map((f) => ({ name: f, file: join(dir, f) })), { bail: false });
} catch (err) {
  process.stdout.write = write;
  console.error(err);
  console.log(`0 passed, 1 failed`);
  process.exit(1);
}
process.stdout.write = write;
// Strip colour codes before reading the summary.
const plain = captured.replace(/\x1b\[[0-9;]*m/g, '');
const total = Number(/Total:\s+(\d+)/.exec(plain)?.[1]);
const passed = Number(/Passed:\s+(\d+)/.exec(plain)?.[1]);
if (!Number.isFinite(total) || !Number.isFinite(passed)) {
  console.log('0 passed, 1 failed');
  process.exit(1);
}
if (total === 0) {
  console.error('no tests ran');
  process.exitCode = 1;
}
console.log(`${passed} passed, ${total - passed} failed`);
