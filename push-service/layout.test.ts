import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('./', import.meta.url));

/** Every relative import of every TypeScript file (tests included) in one folder. */
const importsOf = (folder: string) =>
  readdirSync(`${root}${folder}`)
    .filter((name) => name.endsWith('.ts'))
    .flatMap((name) => {
      const text = readFileSync(`${root}${folder}/${name}`, 'utf8');
      return [...text.matchAll(/from '(\.[^']+)'/g)].map((match) => `${name}: ${match[1]}`);
    });

describe('the two sides and what they share', () => {
  it('service/ never imports the user agent', () => {
    const imports = importsOf('service');
    expect(imports.length).toBeGreaterThan(0);
    expect(imports.filter((line) => line.includes('/user-agent/'))).toEqual([]);
  });

  it('user-agent/ never imports the service', () => {
    const imports = importsOf('user-agent');
    expect(imports.length).toBeGreaterThan(0);
    expect(imports.filter((line) => line.includes('/service/'))).toEqual([]);
  });

  it('wire/ imports neither side', () => {
    expect(importsOf('wire').filter((line) => /\/(service|user-agent)\//.test(line))).toEqual([]);
  });
});
