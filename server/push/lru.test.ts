import { describe, expect, it } from 'vitest';
import { createLru } from './lru.js';

describe('createLru', () => {
  it('drops the least recently used entry first, a read counting as a use', () => {
    const lru = createLru<number>(3);
    lru.set('a', 1);
    lru.set('b', 2);
    lru.set('c', 3);
    expect(lru.get('a')).toBe(1);
    lru.set('d', 4);
    expect(lru.get('b')).toBeUndefined();
    expect([lru.get('a'), lru.get('c'), lru.get('d')]).toEqual([1, 3, 4]);
    expect(lru.size).toBe(3);
  });

  it('never drops an entry read within the last half of its bound, whatever comes in', () => {
    const lru = createLru<number>(100);
    for (let i = 0; i < 100; i += 1) lru.set(`k${i}`, i);
    // k0 is read every 40 puts: it must outlive 1,000 newer entries.
    for (let i = 100; i < 1100; i += 1) {
      if ((i - 100) % 40 === 0) expect(lru.get('k0')).toBe(0);
      lru.set(`k${i}`, i);
    }
    expect(lru.get('k0')).toBe(0);
    expect(lru.get('k1')).toBeUndefined();
    expect(lru.size).toBe(100);
  });

  it('replaces a value set again', () => {
    const lru = createLru<string>(2);
    lru.set('a', 'x');
    lru.set('a', 'y');
    expect(lru.get('a')).toBe('y');
    expect(lru.size).toBe(1);
  });
});
