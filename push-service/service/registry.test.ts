import { describe, expect, it } from 'vitest';
import { type Connection, createRegistry, type StoredMessage } from './registry.js';

const key = new Uint8Array(65).fill(4);
const otherKey = new Uint8Array(65).fill(5);

const message = (uaid: string, id: string, fields: Partial<StoredMessage> = {}): StoredMessage => ({
  id,
  channelID: 'c1',
  uaid,
  body: new Uint8Array(),
  ttl: 60,
  urgency: 'normal',
  topic: null,
  expiresAt: 60_000,
  connection: null,
  removed: null,
  ...fields,
});

const connection: Connection = { push: () => {}, close: () => {} };

describe('registry', () => {
  it('registers a channel once per user agent and refuses it to others', () => {
    const registry = createRegistry();
    const { agent } = registry.hello(undefined);
    const { agent: other } = registry.hello(undefined);
    expect(registry.register(agent, 'c1', key).ok).toBe(true);
    expect(registry.register(agent, 'c1', key).ok).toBe(true);
    expect(registry.register(agent, 'c1', otherKey)).toEqual({ ok: false, status: 409 });
    expect(registry.register(agent, 'c1', null)).toEqual({ ok: false, status: 409 });
    expect(registry.register(other, 'c1', key)).toEqual({ ok: false, status: 409 });
    registry.unregister('c1');
    expect(registry.register(agent, 'c1', key)).toEqual({ ok: false, status: 409 });
    expect(registry.channel('c1')?.gone).toBe(true);
  });

  it('replaces every stored message of the same topic on the same channel only', () => {
    const registry = createRegistry();
    const { agent } = registry.hello(undefined);
    registry.register(agent, 'c1', key);
    registry.register(agent, 'c2', key);
    registry.store(message(agent.uaid, 'a', { topic: 't' }), true);
    registry.store(message(agent.uaid, 'a-copy', { topic: 't' }), false);
    registry.store(message(agent.uaid, 'b', { topic: 't', channelID: 'c2' }), true);
    const replaced = registry.store(message(agent.uaid, 'c', { topic: 't' }), true);
    expect(replaced.map((m) => [m.id, m.removed])).toEqual([
      ['a', 'replaced'],
      ['a-copy', 'replaced'],
    ]);
    expect([...agent.messages.keys()]).toEqual(['b', 'c']);
  });

  it('expires messages at expiresAt, except those waiting for an ack on the live connection', () => {
    const registry = createRegistry();
    const { agent } = registry.hello(undefined);
    registry.register(agent, 'c1', key);
    agent.connection = connection;
    registry.store(message(agent.uaid, 'sent', { expiresAt: 1000, connection }), true);
    registry.store(message(agent.uaid, 'stored', { expiresAt: 1000 }), true);
    registry.store(message(agent.uaid, 'young', { expiresAt: 1001 }), true);
    expect(registry.expire(agent, 1000).map((m) => m.id)).toEqual(['stored']);
    agent.connection = null;
    expect(registry.expireAll(1000).map((m) => m.id)).toEqual(['sent']);
    expect(registry.size()).toBe(1);
  });

  it('expires a message stored after a scan that found none due, even one due before the rest', () => {
    const registry = createRegistry();
    const { agent } = registry.hello(undefined);
    registry.register(agent, 'c1', key);
    registry.store(message(agent.uaid, 'late', { expiresAt: 5000 }), true);
    expect(registry.expire(agent, 1000)).toEqual([]);
    registry.store(message(agent.uaid, 'early', { expiresAt: 1500 }), true);
    expect(registry.expire(agent, 1400)).toEqual([]);
    expect(registry.expire(agent, 2000).map((m) => m.id)).toEqual(['early']);
    expect(registry.expire(agent, 4999)).toEqual([]);
    expect(registry.expire(agent, 5000).map((m) => m.id)).toEqual(['late']);
    expect(registry.size()).toBe(0);
  });

  it('knows a uaid for the life of the service and makes a new one for an unknown uaid', () => {
    const registry = createRegistry();
    const { agent } = registry.hello(undefined);
    expect(registry.hello(agent.uaid)).toEqual({ agent, known: true });
    const fresh = registry.hello('not-known');
    expect(fresh.known).toBe(false);
    expect(fresh.agent.uaid).not.toBe('not-known');
  });

  it('drops a user agent: its channels are gone, its messages removed, its uaid unknown', () => {
    const registry = createRegistry();
    const { agent } = registry.hello(undefined);
    const { agent: other } = registry.hello(undefined);
    registry.register(agent, 'c1', key);
    registry.register(agent, 'c2', key);
    registry.register(other, 'c3', key);
    registry.store(message(agent.uaid, 'a'), true);
    registry.store(message(agent.uaid, 'b', { channelID: 'c2' }), true);
    registry.store(message(other.uaid, 'c', { channelID: 'c3' }), true);

    const dropped = registry.drop(agent.uaid);
    expect(dropped?.channelIDs).toEqual(['c1', 'c2']);
    expect(dropped?.messages.map((m) => [m.id, m.removed])).toEqual([
      ['a', 'user-agent-dropped'],
      ['b', 'user-agent-dropped'],
    ]);
    expect([registry.channel('c1')?.gone, registry.channel('c2')?.gone]).toEqual([true, true]);
    expect(registry.channel('c3')?.gone).toBe(false);
    expect(registry.agent(agent.uaid)).toBeUndefined();
    expect(registry.size()).toBe(1);
    expect(registry.hello(agent.uaid).known).toBe(false);
    expect(registry.drop(agent.uaid)).toBeUndefined();
  });
});
