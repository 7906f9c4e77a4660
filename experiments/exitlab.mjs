#!/usr/bin/env node
// The `exitlab` bin. In a checkout it runs the TypeScript CLI through tsx (experiments/cli.ts next to this file);
// in the installed package, where only dist/ and this file are shipped, the compiled dist/experiments/cli.js,
// which registers tsx itself when it has to load a user's .ts experiment.
import { existsSync } from 'node:fs';

const source = new URL('./cli.ts', import.meta.url);
let cli;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import(source.href);
} else {
  cli = await import(new URL('../dist/experiments/cli.js', import.meta.url).href);
}
process.exitCode = await cli.main(process.argv.slice(2));
