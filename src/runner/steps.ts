// Executes one setup step on its machine; every object it creates is recorded in the state first.
import { dirname } from 'node:path';
import * as cmd from '../hypervisor/commands.ts';
import * as ops from '../hypervisor/ops.ts';
import type { Step } from '../lab/model.ts';
import type { StepStatus } from '../report/events.ts';
import type { ResolvedImage } from './images.ts';
import { exec, type Session } from './session.ts';

export interface StepOutcome {
  status: StepStatus;
  detail?: string;
}

export async function executeStep(step: Step, s: Session, images: Map<string, ResolvedImage>): Promise<StepOutcome> {
  const rec = s.store.record.bind(s.store);
  switch (step.kind) {
    case 'upload': {
      const x = exec(s, step.to);
      const jobs = [
        ...step.files.map((f) => ({ local: f.src, remote: cmd.labFilePath(f.rel) })),
        ...step.images.map((i) => ({ local: images.get(i.ref)!.path, remote: cmd.imagePath(i) })),
      ];
      const done = await Promise.all(jobs.map(async (j) => {
        rec({ kind: 'remote-file', path: j.remote, owner: step.to });
        return x.upload(j.local, j.remote);
      }));
      const copied = done.filter((d) => !d.skipped);
      const bytes = copied.reduce((n, d) => n + d.bytes, 0);
      return { status: copied.length ? 'changed' : 'ok', detail: `${copied.length} copied (${(bytes / 1048576).toFixed(1)} MiB), ${done.length - copied.length} already there` };
    }
    case 'net-define': {
      rec({ kind: 'libvirt-network', name: step.network, owner: step.on });
      await ops.defineNetwork(exec(s, step.on), step.network, cmd.labFilePath(step.rel));
      return { status: 'changed' };
    }
    case 'net-start':
      await ops.startNetwork(exec(s, step.on), step.network);
      return { status: 'changed' };
    case 'promisc':
      await ops.setPromisc(exec(s, step.on), step.nic, step.state);
      return { status: 'changed' };
    case 'guest': {
      rec({ kind: 'domain', name: step.guest.name, owner: step.on });
      await ops.launchGuest(exec(s, step.on), step.guest);
      return { status: 'changed', detail: `mac ${step.guest.mac}` };
    }
    case 'command': {
      const x = exec(s, step.on);
      if (step.argv) {
        const r = await x.run(step.argv, { timeoutMs: 300000 });
        return { status: 'changed', detail: r.stdout.trim().split('\n').pop()?.slice(0, 120) };
      }
      const remote = cmd.labFilePath(step.script!.rel);
      await x.run(['mkdir', '-p', dirname(remote)]);
      await x.upload(step.script!.src, remote, { mode: 0o755 });
      const r = await x.run(['sh', remote], { timeoutMs: 300000 });
      return { status: 'changed', detail: r.stdout.trim().split('\n').pop()?.slice(0, 120) };
    }
  }
}
