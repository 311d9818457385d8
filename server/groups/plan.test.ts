import { describe, expect, it } from 'vitest';
import type { MemberRoute } from '../store/types.js';
import { createPlans } from './plan.js';

const route = (id: string, subscriptionId: string | null, more: Partial<MemberRoute> = {}) =>
  ({
    id,
    tabId: `tab-${id}`,
    subscriptionId,
    held: false,
    background: false,
    expiresAt: Number.MAX_SAFE_INTEGER,
    base: 0,
    ...more,
  }) as MemberRoute;

const shape = (plan: {
  browsers: readonly string[];
  batches: readonly (readonly MemberRoute[])[];
}) => plan.browsers.map((browser, i) => [browser, plan.batches[i]?.map((m) => m.id)]);

describe('createPlans', () => {
  it('groups members by browser, signals the stream, leaves hidden data-only tabs and late joiners out', () => {
    const plans = createPlans({ maxMembers: 100 });
    const plan = plans.planFor(
      'g',
      [
        route('a1', 'sub-a'),
        route('b1', 'sub-b'),
        route('a2', 'sub-a'),
        route('s1', null),
        route('hidden', 'sub-a', { held: true }),
        route('shown-bg', 'sub-b', { held: true, background: true }),
        route('late', 'sub-c', { base: 5 }),
      ],
      5,
    );
    expect(shape(plan)).toEqual([
      ['sub-a', ['a1', 'a2']],
      ['sub-b', ['b1', 'shown-bg']],
    ]);
    expect(plan.streamed).toBe(true);
    expect(plan.leftOut).toBe(true);
  });

  it('keeps a plan while the store hands out the same routes, for later messages only', () => {
    const plans = createPlans({ maxMembers: 100 });
    const routes = [route('a1', 'sub-a', { base: 3 }), route('b1', 'sub-b')];
    const first = plans.planFor('g', routes, 4);
    expect(first.kept).toBe(true);
    // A new array of the same objects, as a store returns them.
    expect(plans.planFor('g', [...routes], 5)).toBe(first);
    // An older message (a redelivery) may predate a member: planned again.
    const older = plans.planFor('g', [...routes], 3);
    expect(older).not.toBe(first);
    expect(shape(older)).toEqual([['sub-b', ['b1']]]);
  });

  it('plans again when a member changed, joined or left', () => {
    const plans = createPlans({ maxMembers: 100 });
    const a1 = route('a1', 'sub-a');
    const b1 = route('b1', 'sub-b');
    const first = plans.planFor('g', [a1, b1], 1);
    // The tab moved to the stream: the store hands out a new object.
    const moved = plans.planFor('g', [a1, route('b1', null)], 2);
    expect(moved).not.toBe(first);
    expect(shape(moved)).toEqual([['sub-a', ['a1']]]);
    expect(moved.streamed).toBe(true);
    const joined = plans.planFor('g', [a1, route('b1', null), route('c1', 'sub-a')], 3);
    expect(shape(joined)).toEqual([['sub-a', ['a1', 'c1']]]);
    expect(shape(plans.planFor('g', [a1], 4))).toEqual([['sub-a', ['a1']]]);
  });

  it('does not keep a plan that left a late joiner out: the next message is theirs', () => {
    const plans = createPlans({ maxMembers: 100 });
    const routes = [route('a1', 'sub-a'), route('late', 'sub-a', { base: 7 })];
    const at7 = plans.planFor('g', routes, 7);
    expect(at7.kept).toBe(false);
    expect(shape(at7)).toEqual([['sub-a', ['a1']]]);
    expect(shape(plans.planFor('g', [...routes], 8))).toEqual([['sub-a', ['a1', 'late']]]);
  });

  it('keeps at most maxMembers members over all groups, forgetting the oldest plans', () => {
    const plans = createPlans({ maxMembers: 3 });
    const g1 = [route('a', 's1'), route('b', 's1')];
    const g2 = [route('c', 's2'), route('d', 's2')];
    const first = plans.planFor('g1', g1, 1);
    const second = plans.planFor('g2', g2, 1);
    expect(second.kept).toBe(true);
    // g1 was forgotten to make room for g2.
    expect(plans.planFor('g1', [...g1], 2)).not.toBe(first);
    const big = plans.planFor(
      'g3',
      [route('e', 's3'), route('f', 's3'), route('g', 's3'), route('h', 's3')],
      1,
    );
    expect(big.kept).toBe(false);
  });
});
