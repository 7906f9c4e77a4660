// Pool worker entry in a checkout: worker threads do not inherit the main thread's TypeScript loader, so register
// tsx before importing the TypeScript worker (the installed package uses the compiled worker.js instead).
import { register } from 'tsx/esm/api';

register();
const { default: task } = await import('./worker.ts');

export default task;
