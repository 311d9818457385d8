import type { YogaLogger } from 'graphql-yoga';
import type { RegistrationRecord, Store } from '../store/types.js';
import { instanceChannel, leftSignal } from '../stream/signals.js';

/**
 * Tells the owners of the groups these (deleted) registrations were in that a member left, so
 * that a group with no member left stops executing at once instead of at its next event.
 * @param store - the store
 * @param left - registrations just deleted or expired
 * @param logger - where a failure is logged (the owner also retires an empty group at its next
 * event)
 */
export async function announceLeft(
  store: Store,
  left: readonly Pick<RegistrationRecord, 'groupId'>[],
  logger: YogaLogger,
): Promise<void> {
  const groupIds = new Set(left.map((record) => record.groupId));
  await Promise.all(
    [...groupIds].map(async (groupId) => {
      try {
        const group = await store.getGroup(groupId);
        // A done group is deleted by the store with its last member.
        if (group && !group.done) {
          await store.signal(instanceChannel(group.owner), leftSignal(groupId));
        }
      } catch (error) {
        logger.debug('graphql-web-push: telling a group’s owner that a member left failed', error);
      }
    }),
  );
}
