import { describe, expect, it } from 'vitest';
import { parseClientFrame, parseServerFrame, type ServerFrame } from './frames.js';

describe('parseClientFrame', () => {
  it('reads the frames Firefox sends', () => {
    expect(parseClientFrame('{"messageType":"hello","broadcasts":{},"use_webpush":true}')).toEqual({
      messageType: 'hello',
    });
    expect(parseClientFrame('{"messageType":"hello","uaid":"abc","use_webpush":true}')).toEqual({
      messageType: 'hello',
      uaid: 'abc',
    });
    expect(parseClientFrame('{"messageType":"register","channelID":"c","key":"BA=="}')).toEqual({
      messageType: 'register',
      channelID: 'c',
      key: 'BA==',
    });
    expect(parseClientFrame('{"messageType":"unregister","channelID":"c","code":201}')).toEqual({
      messageType: 'unregister',
      channelID: 'c',
      code: 201,
    });
    expect(
      parseClientFrame(
        '{"messageType":"ack","updates":[{"channelID":"c","version":"v","code":101}]}',
      ),
    ).toEqual({ messageType: 'ack', updates: [{ channelID: 'c', version: 'v', code: 101 }] });
    expect(parseClientFrame('{"messageType":"nack","version":"v","code":301}')).toEqual({
      messageType: 'nack',
      version: 'v',
      code: 301,
    });
    expect(parseClientFrame('{}')).toEqual({ messageType: 'ping' });
  });

  it('treats an empty uaid as none and an ack without code as delivered', () => {
    expect(parseClientFrame('{"messageType":"hello","uaid":""}')).toEqual({ messageType: 'hello' });
    expect(
      parseClientFrame('{"messageType":"ack","updates":[{"channelID":"c","version":"v"}]}'),
    ).toEqual({ messageType: 'ack', updates: [{ channelID: 'c', version: 'v', code: 100 }] });
  });

  it('refuses what is not a well-formed known frame', () => {
    for (const text of [
      '',
      'hello',
      '[]',
      '"{}"',
      '{"messageType":"hello","uaid":7}',
      `{"messageType":"hello","uaid":"${'a'.repeat(129)}"}`,
      '{"messageType":"register"}',
      '{"messageType":"register","channelID":""}',
      '{"messageType":"register","channelID":"c","key":5}',
      '{"messageType":"ack"}',
      '{"messageType":"ack","updates":[null]}',
      '{"messageType":"ack","updates":[{"channelID":"c","version":"v","code":"100"}]}',
      '{"messageType":"nack"}',
      '{"messageType":"notification","channelID":"c","version":"v"}',
      '{"uaid":"no type"}',
    ]) {
      expect(parseClientFrame(text), text).toBeNull();
    }
  });
});

describe('parseServerFrame', () => {
  it('reads back every frame the service sends', () => {
    const frames: ServerFrame[] = [
      {
        messageType: 'hello',
        uaid: 'a'.repeat(32),
        status: 200,
        use_webpush: true,
        broadcasts: {},
      },
      { messageType: 'register', channelID: 'c', status: 200, pushEndpoint: 'http://h/push/c' },
      { messageType: 'register', channelID: 'c', status: 409 },
      { messageType: 'unregister', channelID: 'c', status: 200 },
      { messageType: 'notification', channelID: 'c', version: 'v' },
      {
        messageType: 'notification',
        channelID: 'c',
        version: 'v',
        data: 'AAEC',
        headers: { encoding: 'aes128gcm' },
      },
    ];
    for (const frame of frames) expect(parseServerFrame(JSON.stringify(frame))).toEqual(frame);
    expect(parseServerFrame('{}')).toEqual({ messageType: 'ping' });
  });

  it('keeps a notification whose encoding is missing, so that it can be acked as undecryptable', () => {
    expect(
      parseServerFrame('{"messageType":"notification","channelID":"c","version":"v","data":"AA"}'),
    ).toEqual({ messageType: 'notification', channelID: 'c', version: 'v', data: 'AA' });
  });

  it('refuses what a user agent cannot act on', () => {
    for (const text of [
      '',
      '[]',
      '{"messageType":"hello","status":200}',
      '{"messageType":"hello","uaid":"u"}',
      `{"messageType":"hello","uaid":"${'a'.repeat(129)}","status":200}`,
      '{"messageType":"register","status":200}',
      '{"messageType":"register","channelID":"c","status":"200"}',
      '{"messageType":"register","channelID":"c","status":200,"pushEndpoint":7}',
      '{"messageType":"unregister","channelID":"c"}',
      '{"messageType":"notification","channelID":"c"}',
      '{"messageType":"notification","channelID":"c","version":"v","data":5}',
      '{"messageType":"broadcast","broadcasts":{}}',
      '{"messageType":"ack","updates":[]}',
    ]) {
      expect(parseServerFrame(text), text).toBeNull();
    }
  });
});
