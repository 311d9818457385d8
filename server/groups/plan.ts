/**
 * Who gets a group message and how: the members' routes grouped into one batch per browser, and
 * the members reached over the stream. Kept per group while the store hands out the same routes.
 * @packageDocumentation
 */
import type { MemberRoute } from '../store/types.js';

/** One message's recipients. */
export interface Plan {
  /** The routes it was made from, as the store returned them. */
  readonly routes: readonly MemberRoute[];
  /** The browsers (push subscription ids) to push to, in the order they are pushed. */
  readonly browsers: readonly string[];
  /** Each browser's members, in the order of `browsers`. */
  readonly batches: readonly (readonly MemberRoute[])[];
  /** Whether some member reads over the stream (the group's channel gets a signal). */
  readonly streamed: boolean;
  /** The largest `base` of its members: it holds for messages past it. */
  readonly maxBase: number;
  /** Whether a member was left out as having joined at or after the message. */
  readonly leftOut: boolean;
  /** Whether it is kept for the group's next messages (what is derived from it may be kept too). */
  readonly kept: boolean;
}

type NewPlan = Omit<Plan, 'kept'> & { kept: boolean };

/** Options of {@link createPlans}. */
export interface PlansOptions {
  /** Members over all kept plans; the oldest plans are forgotten first. */
  maxMembers: number;
}

/** The plans of the groups this instance delivers. */
export interface Plans {
  /**
   * The plan of one message: the kept one when the routes are the very objects it was made
   * from (a store hands out the same read-only object while a registration is unchanged), else
   * a new one.
   * @param groupId - the group
   * @param routes - its members, as the store returned them for this message
   * @param seq - the group seq of the message
   * @returns the plan
   */
  planFor(groupId: string, routes: readonly MemberRoute[], seq: number): Plan;
}

/** Groups `routes` for the message `seq`. */
function makePlan(routes: readonly MemberRoute[], seq: number): NewPlan {
  const bySubscription = new Map<string, MemberRoute[]>();
  let streamed = false;
  let maxBase = 0;
  let leftOut = false;
  for (const member of routes) {
    maxBase = Math.max(maxBase, member.base);
    // Joined at or after this message: it is not theirs.
    if (member.base >= seq) {
      leftOut = true;
      continue;
    }
    if (member.subscriptionId === null) {
      streamed = true;
      continue;
    }
    // A hidden tab's data-only members get nothing (the log has it).
    if (member.held && !member.background) continue;
    let batch = bySubscription.get(member.subscriptionId);
    if (!batch) {
      batch = [];
      bySubscription.set(member.subscriptionId, batch);
    }
    batch.push(member);
  }
  const browsers: string[] = [];
  const batches: MemberRoute[][] = [];
  bySubscription.forEach((batch, subscriptionId) => {
    browsers.push(subscriptionId);
    batches.push(batch);
  });
  return { routes, browsers, batches, streamed, maxBase, leftOut, kept: false };
}

const sameRoutes = (a: readonly MemberRoute[], b: readonly MemberRoute[]): boolean => {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
};

/**
 * Creates the plans of one delivery.
 * @param options - the bound on members kept
 * @returns the plans
 * @remarks A popular group's members rarely change between two messages, while grouping ten
 * thousand of them by browser cost a map lookup and an array append each, and arrays that lived
 * as long as the fan-out. A kept plan is checked member by member (an identity comparison each)
 * and reused; a store that reads fresh objects every time (Redis) gets a new plan every time, as
 * before. A plan that left a member out for joining late is not kept: the next message is that
 * member's.
 */
export function createPlans({ maxMembers }: PlansOptions): Plans {
  const kept = new Map<string, Plan>();
  let keptMembers = 0;

  const forget = (groupId: string): void => {
    const plan = kept.get(groupId);
    if (plan === undefined) return;
    kept.delete(groupId);
    keptMembers -= plan.routes.length;
  };

  return {
    planFor(groupId, routes, seq) {
      const known = kept.get(groupId);
      if (known !== undefined && known.maxBase < seq && sameRoutes(known.routes, routes)) {
        return known;
      }
      forget(groupId);
      const plan = makePlan(routes, seq);
      if (plan.leftOut || routes.length > maxMembers) return plan;
      while (keptMembers + routes.length > maxMembers) {
        const oldest = kept.keys().next();
        if (oldest.done) break;
        forget(oldest.value);
      }
      plan.kept = true;
      kept.set(groupId, plan);
      keptMembers += routes.length;
      return plan;
    },
  };
}
