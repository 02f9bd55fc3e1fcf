// Removing what a netns instance created, newest first, each resource only after it passed the ownership check of
// ownership.ts; and the independent leak scan that follows.
import { existsSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Home } from '../../host/home.ts';
import { isAlive, killOwned, procStart } from '../../host/proc.ts';
import type { Resource, StateStore } from '../../host/state.ts';
import type { Emit } from '../../report/events.ts';
import type { LocalExecutor } from '../../transport/local.ts';
import { SLOT_WIDTH, tapNumbers } from './alloc.ts';
import {
  dirIsOurs,
  linkIsOurs,
  namespaceIsOurs,
  netnsInode,
  processIsOurs,
  processMarks,
  processNetnsInode,
  type Verdict,
} from './ownership.ts';
import { nsMachines } from './state.ts';

type Of<K extends Resource['kind']> = Extract<Resource, { kind: K }>;

/** Removes what the state lists and this run can prove it made; returns what it refused to touch, and why. */
export async function removeAll(store: StateStore, home: Home, local: LocalExecutor, emit: Emit): Promise<string[]> {
  const s = store.state;
  const res = [...s.resources].reverse();
  const refused: string[] = [];
  const refuse = (what: string, v: Verdict) => {
    if (v.ok) return false;
    refused.push(`${what}: ${v.why}`);
    emit({ type: 'removed', what, ok: false, detail: `not removed: ${v.why} (virtlab did not create it in this run)` });
    return true;
  };
  const namespaces = res.filter((r): r is Of<'netns'> => r.kind === 'netns' && existsSync(`/run/netns/${r.name}`));
  const ours = namespaces.filter((r) => !refuse(`namespace ${r.name}`, namespaceIsOurs(r, s)));
  const inodes = new Set(ours.map((r) => netnsInode(r.name)).filter((i): i is number => i !== undefined));
  const marks = processMarks(s, home);
  // a hypervisor's macvtaps are deleted before its namespace: their /dev/tapN go with them at once, where the
  // namespace's cleanup in the kernel's background keeps them about 50 ms longer (and the leak check waits for them).
  // Deleted while its processes are killed (a guest's QEMU loses its tap either way): each deletion waits ~20 ms on
  // the kernel, which the kills do not need
  const sharing = new Set(nsMachines(store).flatMap((m) => (m.data.ifindexBase ? [m.data.ns] : [])));
  const tapsGone = Promise.all(ours.filter((r) => sharing.has(r.name)).map((r) => deleteMacvtaps(local, r.name)));
  // 1. processes: the recorded ones, then anything still inside our namespaces (covers a kill -9 mid-start)
  await Promise.all(
    res.map(async (r) => {
      if (r.kind !== 'process' || !r.proc || !isAlive(r.proc)) return;
      const what = `process ${r.label} (pid ${r.proc.pid})`;
      if (refuse(what, processIsOurs(r.proc, inodes, marks))) return;
      emit({ type: 'removed', what, ok: await killOwned(r.proc) });
    }),
  );
  await killNamespacePids(inodes);
  // 2. namespaces (their veths, bridges and macvtaps go with them; the kernel finishes that in the background), and
  // meanwhile the private folders (logs worth keeping were collected into the report folder) and the root links
  const foldersGone = Promise.all(
    res
      .filter((x): x is Of<'dir'> => x.kind === 'dir' && existsSync(x.path))
      .map(async (r) => {
        if (refuse(`folder ${r.path}`, dirIsOurs(r.path, s, home))) return;
        await rm(r.path, { recursive: true, force: true }).catch(() => {});
        emit({ type: 'removed', what: `folder ${r.path}`, ok: !existsSync(r.path) });
      }),
  );
  // root-namespace links at the same time: a veth deleted on its own goes at once, while one left to its
  // namespace's deletion lingers until the kernel's background cleanup gets to it (about 0.1 s here)
  const links = res.filter((x): x is Of<'link'> => x.kind === 'link' && existsSync(`/sys/class/net/${x.name}`));
  const linksGone = links.map(async (r) => {
    const mine = linkIsOurs(r.name, s);
    if (!mine.ok && !existsSync(`/sys/class/net/${r.name}`)) return; // gone meanwhile: gone is gone
    if (refuse(`link ${r.name}`, mine)) return;
    const out = await local.run(['ip', 'link', 'delete', r.name], { check: false });
    emit({
      type: 'removed',
      what: `link ${r.name}`,
      ok: out.exitCode === 0 || !existsSync(`/sys/class/net/${r.name}`),
    });
  });
  const namespacesGone = ours.map(async (r) => {
    if (sharing.has(r.name)) await tapsGone;
    const out = await local.run(['ip', 'netns', 'delete', r.name], { check: false });
    emit({
      type: 'removed',
      what: `namespace ${r.name}`,
      ok: out.exitCode === 0,
      detail: out.stderr.trim() || undefined,
    });
  });
  await Promise.all([...linksGone, ...namespacesGone]);
  await foldersGone;
  return refused;
}

/** The macvtap links of a namespace (best effort: the namespace's deletion takes what is left). */
async function deleteMacvtaps(local: LocalExecutor, ns: string): Promise<void> {
  const r = await local.run(['ip', '-n', ns, '-o', 'link', 'show', 'type', 'macvtap'], { check: false });
  const names = r.stdout.split('\n').flatMap((l) => /^\d+: ([^@:]+)[@:]/.exec(l)?.[1] ?? []);
  if (names.length)
    await local.run(['ip', '-n', ns, '-batch', '-'], {
      input: names.map((n) => `link delete ${n}\n`).join(''),
      check: false,
    });
}

/** Every process left in one of these network namespaces (by the namespace's inode, read from /proc), killed. */
async function killNamespacePids(inodes: Set<number>): Promise<void> {
  if (!inodes.size) return;
  const inside = () =>
    readdirSync('/proc').filter((p) => {
      if (!/^\d+$/.test(p)) return false;
      const ino = processNetnsInode(Number(p));
      return ino !== undefined && inodes.has(ino) && procStart(Number(p)) !== undefined;
    });
  for (let i = 0; i < 400; i++) {
    const pids = inside();
    if (!pids.length) return;
    for (const p of pids) {
      try {
        process.kill(Number(p), 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** What the state lists, this run made, and still exists. */
export function scan(store: StateStore, home: Home): string[] {
  const s = store.state;
  const found: string[] = [];
  const inodes = new Set<number>();
  for (const r of s.resources) {
    if (r.kind !== 'netns' || !existsSync(`/run/netns/${r.name}`) || !namespaceIsOurs(r, s).ok) continue;
    found.push(`namespace ${r.name}`);
    const ino = netnsInode(r.name);
    if (ino !== undefined) inodes.add(ino);
  }
  for (const r of s.resources) {
    if (r.kind === 'link' && existsSync(`/sys/class/net/${r.name}`) && linkIsOurs(r.name, s).ok)
      found.push(`link ${r.name}`);
    if (r.kind === 'process' && r.proc && isAlive(r.proc) && processIsOurs(r.proc, inodes, processMarks(s, home)).ok) {
      found.push(`process ${r.label} (pid ${r.proc.pid})`);
    }
    if (r.kind === 'dir' && existsSync(r.path) && dirIsOurs(r.path, s, home).ok) found.push(`folder ${r.path}`);
  }
  for (const m of nsMachines(store)) {
    const base = m.data.ifindexBase;
    if (!base) continue;
    for (const t of tapNumbers())
      if (t >= base && t < base + SLOT_WIDTH) found.push(`/dev/tap${t} (slot of ${m.name})`);
  }
  return found;
}
