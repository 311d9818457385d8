/**
 * The delaying relay in a process of its own, so that a push service "50 ms away" is not also
 * a bottleneck on the bench's event loop. Configured by `DELAY_PROXY` (JSON
 * {@link DelayProxyOptions}); answers `relayed` with the connections and bytes relayed so far.
 */
import { serveBenchRequests } from './child.js';
import { type DelayProxyOptions, startDelayProxy } from './delay-proxy.js';

const options = JSON.parse(process.env.DELAY_PROXY ?? '') as DelayProxyOptions;
const proxy = await startDelayProxy(options);
serveBenchRequests(
  { relayed: () => ({ connections: proxy.connections, bytes: proxy.bytes }) },
  options.port,
);
