/**
 * The delaying proxy in a process of its own, so that a push service "50 ms away" is not also
 * a bottleneck on the bench's event loop: with the proxy in the push service's process, one
 * thread parsed and forwarded every request on top of checking and storing it, and the event's
 * wall time measured that thread instead of the sender. Configured by `DELAY_PROXY` (JSON
 * {@link DelayProxyOptions}); answers `requests` with the count forwarded so far.
 */
import { serveBenchRequests } from './child.js';
import { type DelayProxyOptions, startDelayProxy } from './delay-proxy.js';

const options = JSON.parse(process.env.DELAY_PROXY ?? '') as DelayProxyOptions;
const proxy = await startDelayProxy(options);
serveBenchRequests({ requests: () => proxy.requests }, options.port);
