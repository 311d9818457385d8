#!/usr/bin/env node
/**
 * Prints a fresh VAPID key pair as JSON: `{ "publicKey": "…", "privateKey": "…" }`.
 * Usage: `npx graphql-web-push-vapid > .vapid.json` (or `npx tsx server/cli.ts` from a checkout).
 * @packageDocumentation
 */
import { generateVapidKeys } from './vapid.js';

process.stdout.write(`${JSON.stringify(generateVapidKeys(), null, 2)}\n`);
