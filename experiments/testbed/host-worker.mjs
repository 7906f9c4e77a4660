// Worker-thread entry of the testbed server (experiments/testbed/host.ts). Worker threads do not inherit the
// parent's TypeScript loader, so register tsx before importing the TypeScript side (as the harness pool does).
import { register } from 'tsx/esm/api';

register();
await import('./host-thread.ts');
