import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createUserAgent, startPushService } from '../push-service/index.js';
import { createRedisKeys } from '../server/store/redis-keys.js';
import { generateVapidKeys } from '../server/vapid.js';
import { type InstanceConfig, startInstance } from '../test/cluster/processes.js';

const SUBSCRIPTION = 'subscription($p: ID!) { stockChanged(productId: $p) { id stock } }';

/** How long the survivor took to own every registration of the instance that went away. */
export interface AdoptionRound {
  /** After `kill -9`. */
  killMs: number;
  /** After SIGTERM (graceful hand-over). */
  terminateMs: number;
}

/**
 * Two instances (child processes) on Redis. Per round: a new instance takes `registrations`
 * registrations, is killed (or terminated), and the time until the other owns all of them is
 * measured by polling the owners of their execution groups every 5 ms.
 * @param redisUrl - a Redis for the round
 * @param rounds - rounds of each kind
 * @param registrations - registrations per round
 * @param leaseTtlMs - the instances' lease TTL (the plugin's default is 5000)
 * @returns one {@link AdoptionRound} per round
 */
export async function measureAdoption(
  redisUrl: string,
  { rounds = 3, registrations = 50, leaseTtlMs = 5_000 } = {},
): Promise<AdoptionRound[]> {
  const redis = new Redis(redisUrl);
  const pushService = await startPushService({ port: 0 });
  const vapid = generateVapidKeys();
  const prefix = `bench-${randomBytes(4).toString('hex')}`;
  const keys = createRedisKeys(prefix);
  const config: InstanceConfig = {
    redisUrl,
    prefix,
    pushOrigin: pushService.origin,
    vapid,
    leaseTtlMs,
    registrationTtlMs: 600_000,
  };
  const agents: ReturnType<typeof createUserAgent>[] = [];
  const survivor = await startInstance('survivor', config);
  const results: AdoptionRound[] = [];

  /** Registers on `url`; returns the ids once that instance owns every one's group. */
  const registerOn = async (url: string, owner: string): Promise<string[]> => {
    // A browser per round: one push subscription holds at most 200 registrations by default.
    const agent = createUserAgent({ serviceUrl: pushService.wsUrl });
    agents.push(agent);
    const subscription = await agent.subscribe(vapid.publicKey);
    const put = await fetch(`${url}/push/subscriptions`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(subscription),
    });
    const { subscriptionId } = (await put.json()) as { subscriptionId: string };
    const ids: string[] = [];
    for (let i = 0; i < registrations; i++) {
      const answer = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          'x-graphql-web-push': 'register',
        },
        body: JSON.stringify({
          query: SUBSCRIPTION,
          variables: { p: `p${i % 5}` },
          extensions: {
            webPush: {
              subscriptionId,
              tabId: randomBytes(16).toString('base64url'),
              operationKey: String(i),
            },
          },
        }),
      });
      const body = (await answer.json()) as { extensions: { webPush: { registrationId: string } } };
      ids.push(body.extensions.webPush.registrationId);
    }
    await ownedBy(ids, owner, 10_000);
    return ids;
  };

  /** Resolves with the time when `owner` owns the group of every registration. */
  const ownedBy = async (ids: string[], owner: string, timeoutMs: number): Promise<number> => {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      // A registration runs in its execution group; the group's hash names the owning instance.
      const owners = await Promise.all(
        ids.map(async (id) => {
          const groupId = await redis.hget(keys.registration(id), 'g');
          return groupId === null ? null : redis.hget(keys.groupKeys(groupId)[0], 'o');
        }),
      );
      if (owners.every((name) => name === owner)) return performance.now();
      if (performance.now() > deadline) throw new Error(`bench: ${owner} did not adopt in time`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };

  try {
    for (let round = 0; round < rounds; round++) {
      const killed = await startInstance(`killed-${round}`, config);
      const killedIds = await registerOn(killed.url, killed.name);
      const killedAt = performance.now();
      await killed.kill();
      const killMs = (await ownedBy(killedIds, 'survivor', leaseTtlMs * 3)) - killedAt;

      const drained = await startInstance(`drained-${round}`, config);
      const drainedIds = await registerOn(drained.url, drained.name);
      const terminatedAt = performance.now();
      const exited = drained.terminate();
      const terminateMs = (await ownedBy(drainedIds, 'survivor', leaseTtlMs * 3)) - terminatedAt;
      await exited;
      results.push({ killMs, terminateMs });
    }
    return results;
  } finally {
    await Promise.all(agents.map((agent) => agent.close()));
    await survivor.terminate();
    await pushService.close();
    await redis.quit();
  }
}
