/**
 * Ready-to-bundle service worker entry: handles graphql-web-push messages with the defaults
 * (silent background policy). Bundled as the package's `sw.js`, for
 * `importScripts('/path/to/sw.js')` from an app's own worker or to be served as the worker itself.
 * @packageDocumentation
 */

import { handlePushMessages } from './index.js';
import type { PushWorkerScope } from './types.js';

// In a service worker `globalThis` is `self`, the ServiceWorkerGlobalScope.
handlePushMessages(globalThis as unknown as PushWorkerScope);
