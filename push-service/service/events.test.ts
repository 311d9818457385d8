import { describe, expect, it } from 'vitest';
import { createEmitter } from './events.js';

describe('createEmitter', () => {
  it('says whether an event has listeners, so that its payload is made only for them', () => {
    const events = createEmitter<{ message: { id: string }; removed: { id: string } }>();
    expect(events.listening('message')).toBe(false);
    const seen: string[] = [];
    const off = events.on('message', ({ id }) => seen.push(id));
    expect(events.listening('message')).toBe(true);
    expect(events.listening('removed')).toBe(false);
    events.emit('message', { id: 'a' });
    off();
    expect(events.listening('message')).toBe(false);
    events.emit('message', { id: 'b' });
    expect(seen).toEqual(['a']);
  });
});
