// Pool worker (piscina): runs one cell per task. Worker threads do not inherit this process's TypeScript loader,
// so the worker registers tsx itself before importing the cell runner. Traces are cached per worker.
import { register } from 'tsx/esm/api';

register();
const { runCell } = await import('./cell.ts');

export default function task(cell) {
  return runCell(cell);
}
