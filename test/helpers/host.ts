// What a lab instance may have left on this host, looked up independently of virtlab's own leak check.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';

export const CLI = ['tsx', 'src/cli/main.ts'];

export function virtlab(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}) {
  const r = spawnSync('npx', [...CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', ...opts.env },
    timeout: opts.timeoutMs ?? 240000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, out: r.stdout + r.stderr };
}

export function namespacesOf(instance: string): string[] {
  return existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith(`vl-${instance}-`)) : [];
}

/** Processes whose command line mentions the run's folder (daemons, QEMU) or its namespaces. */
export function processesOf(marker: string): string[] {
  const out: string[] = [];
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(marker) && Number(p) !== process.pid) out.push(`${p}: ${cmd.slice(0, 120)}`);
    } catch {
      /* gone */
    }
  }
  return out;
}

export function rootLinks(runId: string): string[] {
  return readdirSync('/sys/class/net').filter((l) => l.startsWith(`vl${runId}`));
}

/** Everything an instance could leave behind; empty when clean. */
export function leftovers(
  instance: string,
  runId?: string,
  home = process.env.VIRTLAB_HOME ?? '/var/lib/virtlab',
): string[] {
  const found = [...namespacesOf(instance).map((n) => `netns ${n}`)];
  if (existsSync(`${home}/state/${instance}.json`)) found.push(`state file ${instance}.json`);
  if (runId) {
    found.push(...rootLinks(runId).map((l) => `link ${l}`));
    found.push(...processesOf(`${instance}-${runId}`).map((p) => `process ${p}`));
    for (const d of ['machines', 'networks', 'keys'])
      if (existsSync(`${home}/runs/${instance}-${runId}/${d}`)) found.push(`folder ${d}`);
  }
  return found;
}

/** Processes living in a network namespace that is neither the host's nor any namespace still listed in /run/netns. */
export function orphanNamespaceProcesses(): string[] {
  const ino = (p: string) => {
    try {
      return readlinkSync(p);
    } catch {
      return undefined;
    }
  };
  const host = ino('/proc/self/ns/net');
  const unlisted = (pids: string[]) => {
    const listed = new Set<string>();
    if (existsSync('/run/netns'))
      for (const n of readdirSync('/run/netns')) {
        try {
          listed.add(`net:[${statSync(`/run/netns/${n}`).ino}]`);
        } catch {
          /* deleted meanwhile */
        }
      }
    return pids.filter((p) => {
      const ns = ino(`/proc/${p}/ns/net`);
      return ns && ns !== host && !listed.has(ns);
    });
  };
  let found = unlisted(readdirSync('/proc').filter((x) => /^\d+$/.test(x)));
  // a namespace being made by another test (`ip netns add` is in it a moment before it is listed) is not an orphan:
  // an orphan is still there, still in an unlisted namespace, a moment later
  if (found.length) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    found = unlisted(found);
  }
  return found.map((p) => {
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').slice(0, 100);
    } catch {
      /* gone */
    }
    return `${p} ${ino(`/proc/${p}/ns/net`)} ${cmd}`;
  });
}

/** Polls fn once a second until it holds or ms have passed. */
export async function eventually(fn: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (fn()) return true;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return fn();
}
