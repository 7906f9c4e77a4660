#!/usr/bin/env node
// `npx exitlab ...` inside this repository: register tsx's loader, then run the TypeScript CLI.
import { register } from 'tsx/esm/api';

register();
await import('./cli.ts');
