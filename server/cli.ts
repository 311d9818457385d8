#!/usr/bin/env node
/**
 * Prints a fresh VAPID key pair as JSON: `{ "publicKey": "…", "privateKey": "…" }`.
 * Usage: `npx graphql-web-push-vapid > .vapid.json`, in a project that installed the package and
 * in a checkout alike: `bin/graphql-web-push-vapid.js` runs the compiled file when the package is
 * installed and this source through tsx in a checkout, so no build is needed first.
 * @packageDocumentation
 */
import { generateVapidKeys } from './vapid.js';

process.stdout.write(`${JSON.stringify(generateVapidKeys(), null, 2)}\n`);
