import type { RegistrationClient } from './http.js';
import type { Operations } from './operations.js';

/** Options of {@link createRenewRound}. */
export interface RenewRoundOptions {
  tabId: string;
  http: RegistrationClient;
  operations: Operations;
  /** Whether the page is hidden now: the server then holds the data-only pushes. */
  hidden(): boolean;
  /** Where the path says registrations go: push (true) or the stream. */
  onPush(): boolean;
  /** The server deleted our push subscription (the push service answered 404/410). */
  onPushLost(): void;
  /** Registrations may be misplaced: put them where the path says. */
  onReconcile(): void;
  disposed(): boolean;
}

/** One renewal of the tab's registrations, and what its answer means. */
export interface RenewRound {
  /** Renews every live registration with its acknowledgement. */
  run(): Promise<void>;
  /** Makes the next round fill gaps at once (the page is back: what it missed is owed). */
  catchUpNext(): void;
}

/**
 * Creates the renewal round of one client.
 * @param options - the client's parts a renewal answer reaches
 * @returns the round; the timer that runs it is {@link createRenewal}'s
 * @remarks The answer says which registrations are gone (registered again, with a resync),
 * which seq each is at (a gap the sequencer fills from the log), and which the server moved
 * onto the stream (our push subscription was deleted: the path goes back to the stream).
 */
export function createRenewRound(options: RenewRoundOptions): RenewRound {
  const { tabId, http, operations, hidden, onPush, onPushLost, onReconcile, disposed } = options;
  /** Set when the page comes back: what was missed meanwhile is fetched at once. */
  let catchUp = false;

  return {
    catchUpNext() {
      catchUp = true;
    },
    async run() {
      const fill = catchUp ? 'now' : 'after-gap-wait';
      catchUp = false;
      const live = [...operations.live];
      if (live.length === 0) return;
      const result = await http.renew({
        tabId,
        registrations: live.map(([registrationId, operation]) => ({
          registrationId,
          ackedSeq: operation.delivery?.lastSeq ?? 0,
        })),
        hidden: hidden(),
      });
      if (!result.ok) {
        // Still owed: the next round catches up instead.
        if (fill === 'now') catchUp = true;
        return;
      }
      if (disposed()) return;
      for (const id of result.value.gone) operations.reregister(id, 'registration-gone');
      for (const [id, seq] of Object.entries(result.value.seqs)) {
        operations.live.get(id)?.delivery?.noteServerSeq(seq, fill);
      }
      let lostPush = false;
      for (const id of result.value.streamed) {
        const operation = operations.live.get(id);
        if (!operation) continue;
        if (operation.deliveredTo !== null && onPush()) lostPush = true;
        operation.deliveredTo = null;
      }
      if (lostPush) onPushLost();
      else onReconcile();
    },
  };
}
