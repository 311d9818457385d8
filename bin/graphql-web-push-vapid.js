#!/usr/bin/env node
// `npx graphql-web-push-vapid`: prints a fresh VAPID key pair (see server/cli.ts).
// In a checkout the TypeScript source runs through tsx, a devDependency, so the command works right
// after `npm ci` and never runs a stale build; the published package has no sources and runs the
// compiled dist/.
import { existsSync } from 'node:fs';

const source = new URL('../server/cli.ts', import.meta.url);
if (existsSync(source)) {
  const { tsImport } = await import('tsx/esm/api');
  await tsImport(source.href, import.meta.url);
} else {
  await import(new URL('../dist/server/cli.js', import.meta.url).href);
}
