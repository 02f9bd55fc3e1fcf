// The hypervisors' state after setup (links, addresses, routes, nftables and iptables rules, the XML libvirt
// generated), taken while the guests boot and kept as host-state.json in the report folder: `virtlab diff` compares
// it between two runs (the NAT rules moving from iptables to nftables, a device that changed its master).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exec } from '../kinds/session.ts';
import { HOST_SECTIONS, type HostState } from '../report/host-state.ts';
import type { Run } from './context.ts';

const SECTION_TIMEOUT_MS = 15_000;

/** Every hypervisor's sections, each on its own: one a machine cannot give (no nft there) is left out. */
export async function snapshotHostState(r: Run): Promise<void> {
  const s = r.session;
  if (!s) return;
  const hypervisors = r.lab.machines.filter((m) => m.role === 'hypervisor');
  await Promise.all(
    hypervisors.map(async (m) => {
      const state: HostState = {};
      await Promise.all(
        HOST_SECTIONS.map(async (sec) => {
          const res = await exec(s, m.name)
            .run(sec.argv, { check: false, timeoutMs: SECTION_TIMEOUT_MS })
            .catch(() => undefined);
          if (res?.exitCode !== 0) return;
          try {
            state[sec.name] = sec.lines(res.stdout);
          } catch {
            /* output it cannot read (an old iproute2 without -j): left out */
          }
        }),
      );
      r.hostState[m.name] = Object.fromEntries(
        HOST_SECTIONS.flatMap((x) => (state[x.name] ? [[x.name, state[x.name]!]] : [])),
      );
    }),
  );
}

/** host-state.json in the report folder, when there is a state; the file's path, for the report's list. */
export function writeHostState(r: Run): string | undefined {
  if (!Object.keys(r.hostState).length) return undefined;
  const file = join(r.reportDir, 'host-state.json');
  writeFileSync(file, `${JSON.stringify(r.hostState, null, 1)}\n`, { mode: 0o600 });
  return file;
}
