/**
 * Summarises `.cpuprofile` files (from `BENCH_PROFILE=<dir>` or `node --cpu-prof`): self time by
 * kind of code, the functions with the most self time, and this library's functions by total
 * time (their callees included). Samples taken while the profiler itself started are left out.
 * `.heapprofile` files (sampled allocations) the same way, in bytes allocated.
 *
 *   node --import tsx bench/profile-summary.ts <file.cpuprofile|file.heapprofile>… [--top N]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface HeapNode {
  id: number;
  callFrame: ProfileNode['callFrame'];
  selfSize: number;
  children: HeapNode[];
}

/** A `.heapprofile` as a `.cpuprofile`: one sample per node, its weight the bytes allocated. */
function fromHeapProfile({ head }: { head: HeapNode }): Profile {
  const profile: Profile = { nodes: [], samples: [], timeDeltas: [] };
  const visit = (node: HeapNode): void => {
    profile.nodes.push({
      id: node.id,
      callFrame: node.callFrame,
      children: node.children.map((child) => child.id),
    });
    profile.samples.push(node.id);
    profile.timeDeltas.push(node.selfSize);
    for (const child of node.children) visit(child);
  };
  visit(head);
  return profile;
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const isOurs = (url: string) =>
  (url.includes('/server/') || url.includes('/protocol/')) && !url.includes('node_modules');

/** Kinds of code, first match wins. */
const KINDS: [kind: string, test: (name: string, url: string) => boolean][] = [
  ['garbage collection', (name) => name === '(garbage collector)'],
  ['program (native, unattributed)', (name) => name === '(program)'],
  [
    'crypto',
    (name, url) =>
      /internal\/crypto|\/web-push\/|http_ece|\/jws\/|\/jwa\/|asn1|encrypt/.test(url) ||
      /^(sign|computeSecret|ECDH|generateKeys|getPublicKey|Hmac|digest|update|final|initiv|hkdf)/.test(
        name,
      ),
  ],
  [
    'http, net, streams',
    (name, url) =>
      /node:(_http|http|net|stream|internal\/(streams|http|stream_base|net|dns))/.test(url) ||
      /^(writev|writeBuffer|writeUtf8String|writeLatin1String|execute|consume)$/.test(name),
  ],
  ['this library', (_, url) => isOurs(url)],
  [
    'graphql, yoga, envelop',
    (_, url) => /node_modules\/(graphql|graphql-yoga|@envelop|@graphql-|@whatwg-node)/.test(url),
  ],
  ['bench', (_, url) => url.includes('/bench/')],
  ['other node_modules', (_, url) => url.includes('node_modules')],
  ['node internals', (_, url) => url.startsWith('node:')],
  ['native, other', () => true],
];

const kindOf = (name: string, url: string): string =>
  KINDS.find(([, test]) => test(name, url))?.[0] ?? 'other';

function label({ functionName, url, lineNumber }: ProfileNode['callFrame']): string {
  return `${functionName || '(anonymous)'} ${url.replace(/^.*\/(node_modules|main)\//, '')}:${lineNumber + 1}`;
}

function summarise(path: string, top: number): string {
  const parsed = JSON.parse(readFileSync(path, 'utf8'));
  const heap = 'head' in parsed;
  const profile = (heap ? fromHeapProfile(parsed) : parsed) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node.id);
  const ancestors = (id: number): ProfileNode[] => {
    const chain: ProfileNode[] = [];
    for (let at = parent.get(id); at !== undefined; at = parent.get(at)) {
      chain.push(byId.get(at) as ProfileNode);
    }
    return chain;
  };
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const kinds = new Map<string, number>();
  const functions = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busy = 0;
  let excluded = 0;
  for (const [id, us] of self) {
    const node = byId.get(id) as ProfileNode;
    const { functionName, url } = node.callFrame;
    if (functionName === '(idle)') continue;
    const chain = ancestors(id);
    if (chain.some((frame) => frame.callFrame.url.includes('bench/profiler'))) {
      excluded += us;
      continue;
    }
    busy += us;
    const kind = kindOf(functionName, url);
    kinds.set(kind, (kinds.get(kind) ?? 0) + us);
    functions.set(label(node.callFrame), (functions.get(label(node.callFrame)) ?? 0) + us);
    const seen = new Set<string>();
    for (const frame of [node, ...chain]) {
      if (!isOurs(frame.callFrame.url)) continue;
      const name = label(frame.callFrame);
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + us);
    }
  }
  const ms = (us: number) =>
    heap ? `${(us / 1048576).toFixed(1)} MiB` : `${(us / 1000).toFixed(1)} ms`;
  const share = (us: number) => `${((100 * us) / busy).toFixed(1)} %`.padStart(7);
  const lines = [
    heap
      ? `${path}: ${ms(busy)} allocated (sampled)`
      : `${path}: ${ms(busy)} busy (${ms(excluded)} of the profiler's own left out)`,
  ];
  for (const [kind, us] of [...kinds].sort((a, b) => b[1] - a[1])) {
    lines.push(`  ${share(us)}  ${kind}`);
  }
  lines.push(`  top ${top} functions by ${heap ? 'bytes allocated' : 'self time'}:`);
  for (const [name, us] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`  ${share(us)}  ${name}`);
  }
  lines.push(`  this library's functions by total ${heap ? 'bytes' : 'time'} (callees included):`);
  for (const [name, us] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    lines.push(`  ${share(us)}  ${name}`);
  }
  return lines.join('\n');
}

const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const top = topAt >= 0 ? Number(args[topAt + 1]) : 25;
const files = args.filter((_, i) => topAt < 0 || (i !== topAt && i !== topAt + 1));
for (const file of files) process.stdout.write(`${summarise(file, top)}\n\n`);
