/**
 * The user-agent side of the push service: one WebSocket speaking Mozilla's push protocol
 * (hello, register, unregister, notification, ack, nack, ping). A bad frame closes that socket
 * and nothing else.
 */
import type { WebSocket } from 'ws';
import { decodeBase64Url, encodeBase64Url } from '../../protocol/base64url.js';
import {
  type ClientFrame,
  type NotificationFrame,
  parseClientFrame,
  type ServerFrame,
} from '../wire/frames.js';
import { BASE64URL_ONLY, isUncompressedPoint } from '../wire/keys.js';
import { countCode, reportRemoved, type ServiceContext } from './context.js';
import { PushCloseCode } from './errors.js';
import { createOutbox } from './outbox.js';
import type { Connection, StoredMessage, UserAgentRecord } from './registry.js';

/** How long a closed socket may take to finish the closing handshake before it is cut. */
const CLOSE_GRACE_MS = 1000;

/**
 * Serves one user-agent WebSocket until it closes.
 * @param socket - an accepted socket with subprotocol `push-notification`
 * @param context - the service
 * @returns the session (also stored as the agent's connection after hello)
 */
export function startSession(socket: WebSocket, context: ServiceContext): Connection {
  const { registry, counters, events } = context;
  let agent: UserAgentRecord | null = null;
  let sent = 0;

  const send = (frame: ServerFrame) => {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(frame));
  };

  let forceClose: NodeJS.Timeout | null = null;
  const close = (code: number, reason: string) => {
    outbox.close();
    // From now on messages are only stored: they go out on the user agent's next hello.
    if (agent && agent.connection === session) agent.connection = null;
    if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING) {
      socket.close(code, reason);
      // Firefox does not answer a server's close frame; without this its socket would linger
      // for ws's 30 s closing timeout before Firefox noticed and reconnected.
      forceClose = setTimeout(() => socket.terminate(), CLOSE_GRACE_MS);
    }
  };

  const deliver = (message: StoredMessage) => {
    // Acked, replaced, deleted or unsubscribed while held by a fault: nothing to send.
    if (message.removed !== null || socket.readyState !== socket.OPEN) return;
    const frame: NotificationFrame = {
      messageType: 'notification',
      channelID: message.channelID,
      version: message.id,
    };
    if (message.body.byteLength > 0) {
      frame.data = encodeBase64Url(message.body);
      frame.headers = { encoding: 'aes128gcm' };
    }
    send(frame);
    sent++;
    counters.delivered++;
    events.emit('notification', {
      uaid: message.uaid,
      channelID: message.channelID,
      version: message.id,
    });
    const every = context.faults().disconnectEvery ?? 0;
    if (every > 0 && sent % every === 0) {
      counters.disconnects++;
      close(PushCloseCode.InjectedDisconnect, 'injected disconnect');
    }
  };

  const outbox = createOutbox({ faults: context.faults, random: () => context.random(), deliver });

  const session: Connection = {
    push(message) {
      outbox.push(message);
    },
    close,
  };

  const hello = (uaid: string | undefined) => {
    const { agent: found, known } = registry.hello(uaid);
    const previous = found.connection;
    agent = found;
    agent.connection = session;
    // The newest socket of a uaid wins; the old one would otherwise receive the same messages.
    if (previous && previous !== session) previous.close(PushCloseCode.Replaced, 'replaced');
    counters.hellos++;
    send({
      messageType: 'hello',
      uaid: agent.uaid,
      status: 200,
      use_webpush: true,
      broadcasts: {},
    });
    events.emit('hello', { uaid: agent.uaid, known });
    reportRemoved(context, registry.expire(agent, Date.now()));
    for (const message of agent.messages.values()) {
      message.connection = session;
      outbox.push(message);
    }
  };

  const handle = (frame: ClientFrame, current: UserAgentRecord) => {
    switch (frame.messageType) {
      case 'register': {
        const key = frame.key === undefined ? null : decodeBase64Url(frame.key, BASE64URL_ONLY);
        let status = 200;
        if (frame.key !== undefined && !isUncompressedPoint(key)) status = 400;
        else {
          const result = registry.register(current, frame.channelID, key);
          if (!result.ok) status = result.status;
        }
        send(
          status === 200
            ? {
                messageType: 'register',
                channelID: frame.channelID,
                status,
                pushEndpoint: `${context.url}/push/${encodeURIComponent(frame.channelID)}`,
              }
            : { messageType: 'register', channelID: frame.channelID, status },
        );
        events.emit('register', { uaid: current.uaid, channelID: frame.channelID, status });
        return;
      }
      case 'unregister': {
        const channel = registry.channel(frame.channelID);
        if (channel && channel.uaid === current.uaid) {
          reportRemoved(context, registry.unregister(frame.channelID));
        }
        // Idempotent: an unknown channel is already unregistered.
        send({ messageType: 'unregister', channelID: frame.channelID, status: 200 });
        events.emit('unregister', {
          uaid: current.uaid,
          channelID: frame.channelID,
          code: frame.code ?? 200,
        });
        return;
      }
      case 'ack':
        for (const update of frame.updates) {
          const message = current.messages.get(update.version);
          // Any ack ends the message: 101 and 102 would fail the same way again.
          if (message && message.channelID === update.channelID) {
            registry.remove(message.id, 'acked');
          }
          countCode(counters.acked, update.code);
          const record = { ...update, kind: 'ack' as const, uaid: current.uaid };
          context.acks.push(record);
          events.emit('ack', record);
        }
        return;
      case 'nack': {
        const record = {
          channelID: current.messages.get(frame.version)?.channelID ?? '',
          version: frame.version,
          code: frame.code,
          kind: 'nack' as const,
          uaid: current.uaid,
        };
        countCode(counters.nacked, frame.code);
        context.acks.push(record);
        events.emit('ack', record);
        return;
      }
      case 'ping':
        send({});
        return;
      case 'broadcast_subscribe':
        return;
      case 'hello':
        close(PushCloseCode.HelloRequired, 'hello sent twice');
        return;
    }
  };

  socket.on('message', (data, isBinary) => {
    const frame = isBinary ? null : parseClientFrame(data.toString());
    if (frame === null) {
      close(PushCloseCode.BadFrame, 'bad frame');
      return;
    }
    if (agent === null) {
      if (frame.messageType !== 'hello') close(PushCloseCode.HelloRequired, 'hello first');
      else hello(frame.uaid);
      return;
    }
    // Dropped for its backlog: the socket is closing, and nothing it says counts any more.
    if (registry.agent(agent.uaid) !== agent) return;
    handle(frame, agent);
  });

  socket.on('close', (code) => {
    if (forceClose) clearTimeout(forceClose);
    outbox.close();
    if (agent && agent.connection === session) agent.connection = null;
    events.emit('disconnect', { uaid: agent?.uaid ?? null, code });
  });

  // Without a listener a socket error would be thrown and take the whole service down.
  socket.on('error', () => {
    socket.terminate();
  });

  return session;
}
