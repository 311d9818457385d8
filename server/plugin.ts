import type { ExecutionResult } from 'graphql';
import { isAsyncIterable, type Plugin, processRegularResult, type YogaLogger } from 'graphql-yoga';
import {
  ErrorCode,
  EXTENSION_KEY,
  parseRegistrationExtension,
  REGISTRATION_HEADER,
} from '../protocol/index.js';
import { createCapacity } from './capacity.js';
import { asWebPushError, createWebPushError, webPushErrorCode } from './errors.js';
import { type ObservedCursor, observeCursor } from './event-cursor.js';
import { createDelivery } from './groups/delivery.js';
import { announceLeft } from './groups/leave.js';
import { createGroupRunner } from './groups/runner.js';
import { createRequestGuard, mediaTypeOf } from './guard.js';
import { resolveOptions, type WebPushOptions } from './options.js';
import { createOwnership } from './ownership/index.js';
import { runWithEventCursor } from './pubsub/index.js';
import { createEndpointPolicy, createPushSender } from './push/index.js';
import { createRegistrar, registrationExtensionOf } from './registration.js';
import { isMarkedRegistration, readRegistrationRequest } from './registration-request.js';
import type { RouteContext } from './routes/context.js';
import { handleRoute, ROUTE_PREFIX } from './routes/index.js';
import { createResponder } from './routes/respond.js';
import type { RegistrationRecord } from './store/types.js';
import { createStreamHub, type StreamHub } from './stream/hub.js';
import { goneSignal } from './stream/signals.js';
import { sharedTelemetry } from './telemetry.js';
import { checkVariables } from './validate.js';

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

type StreamHubOptionsFetch = { ReadableStream: typeof ReadableStream; Response: typeof Response };

/** What a client at a capacity is told to wait (`Retry-After`, seconds). */
const RETRY_AFTER_SECONDS = '5';
const GRAPHQL_RESPONSE_JSON = 'application/graphql-response+json';

/**
 * The Yoga plugin that delivers GraphQL subscriptions as Web Push messages.
 *
 * @param options - VAPID keys, store, limits; see {@link WebPushOptions}
 * @returns a graphql-yoga 5 plugin
 * @remarks
 * - Adds the routes `…/push/config`, `…/push/subscriptions`, `…/push/renew`, `…/push/messages`
 *   and `…/push/unregister` under Yoga's GraphQL endpoint.
 * - A `POST /graphql` of a subscription operation with `extensions.webPush` goes through Yoga as
 *   usual (context factory, auth plugins, validation, error masking); instead of streaming, its
 *   result stream becomes a stored registration and the answer is JSON:
 *   `{ extensions: { webPush: { registrationId, expiresAt, seq } } }`. A refused registration
 *   answers `{ errors }` with a non-2xx status, whatever the `Accept` header.
 * - The results each registration's stream yields are logged in the store and pushed.
 * - Registrations of the same operation (document, operation name, variables and execution key)
 *   share one execution group on the instance that took them: one stream, one execution and one
 *   log entry per event, each member's envelopes derived from it with its own seq.
 * - Each group runs on exactly one instance, which owns it through its instance lease (one
 *   heartbeat per instance) and passes the lease's fencing token with every append. Every
 *   instance periodically claims the groups of instances whose lease ended: it runs the stored
 *   operation again through Yoga (context factory, auth plugins and validation apply again, with
 *   the kept headers) inside `runWithEventCursor`, so a replayable pubsub (`createPubSub`)
 *   resumes right after the last event that became a message. Each append advances that cursor
 *   in the same atomic step.
 * - Disposing Yoga hands over: it stops the expiry sweeper and adoptions, closes the streams and
 *   groups running here (registrations stay stored), ends the instance's lease so that other
 *   instances adopt its groups at once, and closes the sender the plugin created.
 * @example
 * ```ts
 * const yoga = createYoga({ schema, plugins: [useWebPush({ vapid, store: createMemoryStore() })] });
 * ```
 */
export function useWebPush(options: WebPushOptions): Plugin {
  const resolved = resolveOptions(options);
  const { store, vapid } = resolved;
  const ownsSender = resolved.sender === undefined;
  const sender = resolved.sender ?? createPushSender({ vapid });
  const policy = createEndpointPolicy({ allowedPushOrigins: resolved.allowedPushOrigins });
  const guard = createRequestGuard({ allowedOrigins: resolved.allowedOrigins });

  // Yoga's logger is known only once Yoga starts; forward to whichever applies at call time.
  let yogaLogger: YogaLogger | undefined;
  const logger = Object.fromEntries(
    LEVELS.map((level) => [
      level,
      (...args: unknown[]) => (resolved.logger ?? yogaLogger)?.[level](...args),
    ]),
  ) as YogaLogger;

  const telemetry = sharedTelemetry();
  const delivery = createDelivery({
    store,
    sender,
    telemetry,
    maxPayloadBytes: resolved.maxPayloadBytes,
    ttlSeconds: Math.floor(resolved.messageTtlMs / 1000),
    topics: resolved.pushTopics,
    logger,
  });
  const runner = createGroupRunner({
    store,
    sender,
    delivery,
    retention: {
      messageTtlMs: resolved.messageTtlMs,
      maxMessages: resolved.maxRetainedMessages,
    },
    logger,
    reclaim: (group) => ownership.reclaim(group),
  });
  const ownership = createOwnership({
    store,
    runner,
    instanceId: resolved.instanceId,
    leaseTtlMs: resolved.leaseTtlMs,
    adoptIntervalMs: resolved.adoptIntervalMs,
    logger,
  });
  const { adopter } = ownership;
  const left = (records: readonly RegistrationRecord[]) => announceLeft(store, records, logger);
  const capacity = createCapacity({
    store,
    limits: {
      maxPushSubscriptions: resolved.maxPushSubscriptions,
      maxRegistrations: resolved.maxRegistrations,
      maxPushSubscriptionsPerClient: resolved.maxPushSubscriptionsPerClient,
      maxRegistrationsPerClient: resolved.maxRegistrationsPerClient,
    },
    clientKey: resolved.clientKey,
    logger,
  });
  const registrar = createRegistrar({
    store,
    runner,
    capacity,
    owner: ownership,
    limits: {
      maxPerTab: resolved.maxRegistrationsPerTab,
      maxPerSubscription: resolved.maxRegistrationsPerSubscription,
    },
    registrationTtlMs: resolved.registrationTtlMs,
    keepHeaders: resolved.keepHeaders,
  });
  const makeHub = (fetchAPI: StreamHubOptionsFetch): StreamHub =>
    createStreamHub({
      store,
      heartbeatMs: resolved.streamHeartbeatMs,
      maxStreams: resolved.maxStreams,
      maxStreamsPerTab: resolved.maxStreamsPerTab,
      maxAgeMs: resolved.streamMaxAgeMs,
      fetchAPI,
      logger,
    });
  // Replaced by one on Yoga's fetch API once Yoga starts.
  let hub = makeHub({ ReadableStream, Response });
  const routes: RouteContext = {
    options: resolved,
    store,
    left,
    telemetry,
    checkEndpoint: (endpoint) => policy.check(endpoint),
    guard,
    capacity,
    respond: createResponder(Response),
    streams: () => hub,
    logger,
    now: Date.now,
  };

  // Registrations are counted in the store (every instance's); groups and streams here.
  let unobserve: (() => void) | undefined = telemetry.observe({
    registrations: async () => (await store.usage()).registrations,
    groups: () => runner.size,
    streams: () => hub.size,
  });

  let graphqlEndpoint = '/graphql';
  let sweeper: ReturnType<typeof setInterval> | undefined;
  let sweeping = false;
  /** Registration requests, answered as JSON whatever they accept. */
  const registrationRequests = new WeakSet<Request>();
  /** The event cursor each registration request's subscription was set up with. */
  const registrationCursors = new WeakMap<Request, ObservedCursor>();

  let warnedReplay = false;
  /**
   * On a shared store another instance may adopt a group; only a source that reads the event
   * cursor (`createPubSub` from graphql-web-push/server) resumes exactly where it stopped.
   */
  const warnIfNotReplayable = (cursor: ObservedCursor | undefined): void => {
    if (warnedReplay || !store.shared || cursor?.used()) return;
    warnedReplay = true;
    logger.warn(
      'graphql-web-push: a registered subscription does not read a replayable event log. With a shared store, ' +
        'an instance that adopts it after a crash or deploy resumes at the live end, and events published in ' +
        'between are not delivered. Subscribe through createPubSub from graphql-web-push/server (not Yoga’s own) ' +
        'to resume exactly.',
    );
  };

  const sweep = async (): Promise<void> => {
    if (sweeping) return;
    sweeping = true;
    try {
      const expired = await store.takeExpired(Date.now());
      await Promise.all([
        // A stream still open for it says so, and ends once its tab has none left.
        ...expired.map((record) => store.signal(record.tabId, goneSignal(record.id))),
        // A group left with no member stops executing.
        left(expired),
      ]);
    } catch (error) {
      logger.error('graphql-web-push: sweeping expired registrations failed', error);
    } finally {
      sweeping = false;
    }
  };

  return {
    onYogaInit({ yoga }) {
      graphqlEndpoint = yoga.graphqlEndpoint.replace(/\/$/, '');
      yogaLogger = yoga.logger;
      routes.respond = createResponder(yoga.fetchAPI.Response);
      if (hub.size === 0) hub = makeHub(yoga.fetchAPI);
      sweeper ??= setInterval(() => void sweep(), resolved.sweepIntervalMs);
      // Expiry sweeping alone must not keep the process alive.
      sweeper.unref();
      ownership.start({
        // Yoga's request pipeline (request parsing, params, context, envelop plugins, validation,
        // result processing); server-adapter hooks (onRequest, onResponse) are for the network.
        fetch: async (url, init) =>
          yoga.handle(new yoga.fetchAPI.Request(url, init), {
            waitUntil: (work) => void Promise.resolve(work).catch(() => {}),
          }),
        endpoint: graphqlEndpoint,
      });
    },

    async onRequest({ request, url, endResponse }) {
      const prefix = `${graphqlEndpoint}${ROUTE_PREFIX}`;
      const { pathname } = url;
      if (pathname !== prefix && !pathname.startsWith(`${prefix}/`)) return;
      endResponse(await handleRoute(routes, request, url, pathname.slice(graphqlEndpoint.length)));
    },

    onRequestParse({ request, setRequestParser }) {
      // Marked registrations are read here, in place of Yoga's parsers: JSON only, same site
      // only, and a body over the limit is refused before it is buffered.
      if (!isMarkedRegistration(request)) return;
      registrationRequests.add(request);
      setRequestParser(async (marked) => {
        try {
          return await readRegistrationRequest(marked, guard, resolved.maxBodyBytes);
        } catch (error) {
          const code = webPushErrorCode(error);
          if (code === null) throw error;
          return routes.respond.error(code, (error as Error).message);
        }
      });
    },

    onParams({ params, request, setResult }) {
      const extension = registrationExtensionOf(params);
      if (extension === undefined) return;
      registrationRequests.add(request);
      try {
        if (!isMarkedRegistration(request)) {
          // Another site's form or link: whatever Yoga parsed, it never registers.
          if (request.method !== 'POST') {
            throw createWebPushError(ErrorCode.MethodNotAllowed, 'Register with POST');
          }
          if (mediaTypeOf(request) !== 'application/json') {
            throw createWebPushError(
              ErrorCode.UnsupportedMediaType,
              'Content-Type must be application/json',
            );
          }
          guard.check(request);
          throw createWebPushError(
            ErrorCode.BadRequest,
            `A registration must carry the ${REGISTRATION_HEADER} header`,
          );
        }
        parseRegistrationExtension(extension);
        if (typeof params.query !== 'string') {
          throw createWebPushError(ErrorCode.BadRequest, 'A registration needs the query text');
        }
        if (Buffer.byteLength(params.query, 'utf8') > resolved.maxDocumentBytes) {
          throw createWebPushError(
            ErrorCode.TooLarge,
            `Document is larger than ${resolved.maxDocumentBytes} bytes`,
          );
        }
        checkVariables(params.variables, {
          maxBytes: resolved.maxVariablesBytes,
          maxDepth: resolved.maxVariablesDepth,
        });
      } catch (error) {
        setResult({ errors: [asWebPushError(error)] });
      }
    },

    onSubscribe({ args, subscribeFn, setSubscribeFn }) {
      const { request, params } = args.contextValue;
      let cursor = adopter.of(request)?.cursor;
      if (!cursor && registrationExtensionOf(params) !== undefined) {
        cursor = observeCursor(null);
        registrationCursors.set(request, cursor);
      }
      if (!cursor) return;
      const { tracker } = cursor;
      // A replayable pubsub the resolver subscribes to reads the tracker: it resumes an adopted
      // registration after its cursor and records how far every registration got.
      setSubscribeFn((subscribeArgs) =>
        runWithEventCursor(tracker, () => subscribeFn(subscribeArgs)),
      );
    },

    onExecute({ args, setResultAndStopExecution }) {
      // Only subscriptions reach onSubscribe; anything executed here cannot register.
      const { request, params } = args.contextValue;
      if (registrationExtensionOf(params) === undefined && !adopter.of(request)) return;
      setResultAndStopExecution({
        errors: [
          createWebPushError(
            ErrorCode.NotASubscription,
            'Only subscription operations can be registered for Web Push',
          ),
        ],
      });
    },

    async onExecutionResult({ result, setResult, context }) {
      // Here the stream already passed every plugin's hooks (masking included), so what gets
      // pushed is what Yoga would have streamed.
      const { params, request } = context;
      const adoption = adopter.of(request);
      if (adoption) {
        // Not a stream: Yoga's errors answer the adopter, which ends the group with them.
        if (!result || !isAsyncIterable(result)) return;
        await adopter.start(
          adoption,
          result[Symbol.asyncIterator]() as AsyncIterator<ExecutionResult>,
        );
        setResult({ extensions: { [EXTENSION_KEY]: { adopted: adoption.group.id } } });
        return;
      }
      const extension = registrationExtensionOf(params);
      if (extension === undefined || !result || !isAsyncIterable(result)) return;
      const iterator = result[Symbol.asyncIterator]() as AsyncIterator<ExecutionResult>;
      try {
        const ack = await registrar.register({
          extension: parseRegistrationExtension(extension),
          query: params.query as string,
          operationName: params.operationName ?? null,
          variables: (params.variables as Record<string, unknown> | undefined) ?? null,
          headers: request.headers,
          clientKey: capacity.clientOf(request),
          executionKey: resolved.executionKey
            ? await resolved.executionKey(context as unknown as Record<string, unknown>)
            : undefined,
          iterator,
          cursor: registrationCursors.get(request),
        });
        setResult({ extensions: { [EXTENSION_KEY]: ack } });
        warnIfNotReplayable(registrationCursors.get(request));
      } catch (error) {
        await iterator.return?.();
        if (webPushErrorCode(error) === null) {
          logger.error('graphql-web-push: storing a registration failed', error);
          setResult({
            errors: [createWebPushError(ErrorCode.Unavailable, 'Service temporarily unavailable')],
          });
          return;
        }
        setResult({ errors: [asWebPushError(error)] });
      }
    },

    onResultProcess({ request, setResultProcessor }) {
      if (!registrationRequests.has(request) && !adopter.of(request)) return;
      const mediaType = (request.headers.get('accept') ?? '').includes(GRAPHQL_RESPONSE_JSON)
        ? GRAPHQL_RESPONSE_JSON
        : 'application/json';
      setResultProcessor(async (result, fetchAPI) => {
        // Statuses by the rules of application/graphql-response+json (a validation error is
        // 400, not 200) whatever the client accepts, so every refusal shows in the status.
        const processed = await processRegularResult(result, fetchAPI, GRAPHQL_RESPONSE_JSON);
        // A new response with one header set: the processed one keeps its media type under a
        // differently cased name, and node:http would send both.
        const headers = new fetchAPI.Headers();
        processed.headers.forEach((value, name) => {
          if (name.toLowerCase() !== 'content-type') headers.set(name, value);
        });
        headers.set('content-type', `${mediaType}; charset=utf-8`);
        // At a capacity: tell the client when to try again, as the routes do.
        const errors = (result as { errors?: readonly { extensions?: { code?: unknown } }[] })
          .errors;
        if (errors?.some((error) => error.extensions?.code === ErrorCode.OverCapacity)) {
          headers.set('retry-after', RETRY_AFTER_SECONDS);
        }
        return new fetchAPI.Response(processed.body, {
          status: processed.status,
          statusText: processed.statusText,
          headers,
        });
      }, mediaType);
    },

    async onDispose() {
      unobserve?.();
      unobserve = undefined;
      if (sweeper) clearInterval(sweeper);
      sweeper = undefined;
      // The clients resume on another instance, from their positions.
      hub.close();
      await ownership.handOver();
      // Closing our sender ends its retries at once; an injected sender's sends are its owner's.
      if (ownsSender) {
        await sender.close();
        await runner.settled();
      }
    },
  };
}
