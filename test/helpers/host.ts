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
  const listed = new Set<string>();
  if (existsSync('/run/netns'))
    for (const n of readdirSync('/run/netns')) listed.add(`net:[${statSync(`/run/netns/${n}`).ino}]`);
  const out: string[] = [];
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    const ns = ino(`/proc/${p}/ns/net`);
    if (ns && ns !== host && !listed.has(ns)) {
      let cmd = '';
      try {
        cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').slice(0, 100);
      } catch {
        /* gone */
      }
      out.push(`${p} ${ns} ${cmd}`);
    }
  }
  return out;
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
