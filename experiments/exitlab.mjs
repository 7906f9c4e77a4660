#!/usr/bin/env node
// `npx exitlab ...` inside this repository: register tsx's loader, then run the TypeScript CLI. The experiment
// modules and the CLI are TypeScript sources of a checkout; the npm package ships only dist/, so say so there.
import { existsSync } from 'node:fs';

const cli = new URL('./cli.ts', import.meta.url);
if (!existsSync(cli)) {
  console.error('exitlab: the experiment CLI runs from a checkout of the exitlab repository (it loads experiments/*.ts); ' +
    'from the installed package, compare policies with compare, simulate and runOnline from "exitlab/experiments" (see docs/writing-a-policy.md)');
  process.exit(1);
}
const { register } = await import('tsx/esm/api');
register();
await import(cli.href);
