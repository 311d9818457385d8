import { describe, expect, it } from 'vitest';
import { parsePushPayload } from '../../protocol/index.js';
import type { MemberRoute } from '../store/types.js';
import { createEnvelopeWriter } from './envelope-bytes.js';

const member = (id: string, tabId: string, base: number): MemberRoute =>
  ({
    id,
    tabId,
    base,
    subscriptionId: 's',
    expiresAt: 0,
    held: false,
    background: false,
  }) as MemberRoute;

const utf8 = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

describe('createEnvelopeWriter', () => {
  it('writes one member’s envelope alone, with its own seq counted from its base', () => {
    const writer = createEnvelopeWriter(10);
    const payload = { data: { stock: 3, name: 'Crème brûlée 🍮' } };
    const bytes = writer.batch([member('r1', 'tab-a', 4)], 14, 'next', utf8(payload));
    expect(JSON.parse(bytes.toString('utf8'))).toEqual({
      v: 1,
      id: 'r1:10',
      tab: 'tab-a',
      reg: 'r1',
      seq: 10,
      type: 'next',
      payload,
    });
  });

  it('writes each message’s own payload, message after message of the same type', () => {
    const writer = createEnvelopeWriter(10);
    const members = [member('r1', 'tab-a', 0), member('r2', 'tab-b', 0)];
    for (let seq = 1; seq <= 3; seq += 1) {
      const payload = { data: { stock: seq * 11 } };
      const bytes = writer.batch(members, seq, 'next', utf8(payload));
      const envelopes = parsePushPayload(JSON.parse(bytes.toString('utf8')));
      expect(envelopes?.map((e) => [e.seq, e.payload])).toEqual([
        [seq, payload],
        [seq, payload],
      ]);
    }
  });

  it('writes the same bytes from kept parts as from its own lookups, also after forgetting', () => {
    // A bound of 2 forgets members while the batch of three is written.
    const writer = createEnvelopeWriter(2);
    const members = [member('r1', 'tab-a', 0), member('r2', 'tab-b', 3), member('r3', 'tab-c', 9)];
    const parts = writer.parts(members);
    const payload = utf8({ data: { n: 2 } });
    for (const seq of [10, 11, 1_000]) {
      const kept = writer.batch(members, seq, 'next', payload, parts);
      expect(kept.equals(writer.batch(members, seq, 'next', payload))).toBe(true);
      const envelopes = parsePushPayload(JSON.parse(kept.toString('utf8')));
      expect(envelopes?.map((e) => [e.reg, e.seq])).toEqual([
        ['r1', seq],
        ['r2', seq - 3],
        ['r3', seq - 9],
      ]);
    }
  });

  it('writes a batch the protocol parses, seqs of every width, payload or none', () => {
    const writer = createEnvelopeWriter(10);
    const members = [0, 8, 9, 90, 99_900].map((base, i) => member(`r${i}`, `tab-${i}`, base));
    const payload = { data: { n: 1 } };
    for (const [type, body] of [
      ['next', utf8(payload)],
      ['complete', undefined],
    ] as const) {
      // Twice: the second time from the parts kept for each member.
      for (let round = 0; round < 2; round += 1) {
        const bytes = writer.batch(members, 100_000 + round, type, body);
        const envelopes = parsePushPayload(JSON.parse(bytes.toString('utf8')));
        expect(envelopes?.map((envelope) => [envelope.reg, envelope.seq, envelope.type])).toEqual(
          members.map((m) => [m.id, 100_000 + round - m.base, type]),
        );
        for (const envelope of envelopes ?? []) {
          expect(envelope.id).toBe(`${envelope.reg}:${envelope.seq}`);
          if (type === 'next') expect(envelope.payload).toEqual(payload);
          else expect(envelope.payload).toBeUndefined();
        }
      }
    }
  });

  it('forgets the oldest members past its bound, and a member whose tab changed', () => {
    const writer = createEnvelopeWriter(2);
    for (const id of ['a', 'b', 'c', 'a'])
      writer.batch([member(id, 'tab-1', 0)], 1, 'next', undefined);
    const moved = writer.batch([member('a', 'tab-2', 0)], 1, 'next', undefined);
    expect(JSON.parse(moved.toString('utf8')).tab).toBe('tab-2');
  });
});
