// attach-interface: a second NIC for a running guest (virsh attach-interface --live).
import * as cmd from '../../hypervisor/commands.ts';
import type { StepBase } from '../../lab/model.ts';
import { defineStep, ref } from '../define.ts';
import { exec } from '../session.ts';

export interface AttachInterfaceStep extends StepBase {
  kind: 'attach-interface';
  on: string;
  guest: string;
  network: string;
  mac: string;
}

interface Raw {
  on: string;
  guest: string;
  network: string;
  mac?: string;
}

export const attachInterface = defineStep<AttachInterfaceStep, Raw>({
  kind: 'attach-interface',
  summary: 'a second NIC for a running guest (virsh attach-interface --live)',
  stage: 'setup',
  schema: {
    description: 'virsh attach-interface --live: a second NIC for a running guest.',
    required: ['on', 'guest', 'network'],
    properties: {
      on: ref('machineName'),
      guest: ref('objName'),
      network: ref('objName', 'The libvirt network of the new NIC.'),
      mac: ref('mac'),
    },
  },
  resolve(raw, ctx, at, base) {
    const on = raw.on;
    if (!ctx.checkMachine([...at, 'on'], on)) return undefined;
    const g = ctx.guests.find((x) => x.name === raw.guest);
    if (!g) {
      ctx.err([...at, 'guest'], `guest "${raw.guest}" is not launched by an earlier step`);
      return undefined;
    }
    if (g.on !== on) ctx.err([...at, 'on'], `guest "${raw.guest}" runs on ${g.on}, not on ${on}`);
    if (!ctx.started.has(`${on}/${raw.network}`)) {
      ctx.err([...at, 'network'], `network "${raw.network}" is not started on ${on} by an earlier net-start step`);
    }
    if (g.nics.some((n) => n.network === raw.network)) {
      ctx.err([...at, 'network'], `guest "${raw.guest}" already has a NIC on "${raw.network}"`);
    }
    const mac = (raw.mac ?? ctx.mac(`${raw.guest}/${raw.network}`)).toLowerCase();
    ctx.claimMac(raw.mac ? [...at, 'mac'] : at, mac, `guest ${raw.guest}'s NIC on ${raw.network}`);
    g.nics.push({ network: raw.network, mac, step: base.id });
    return { ...base, kind: 'attach-interface', on, guest: raw.guest, network: raw.network, mac };
  },
  title: (s) => `attach a NIC on ${s.network} to running guest "${s.guest}" on ${s.on} (mac ${s.mac})`,
  machine: (s) => s.on,
  commands: (s) => [cmd.attachInterface(s.guest, s.network, s.mac)],
  async execute(step, s) {
    await exec(s, step.on).run(cmd.attachInterface(step.guest, step.network, step.mac));
    return { status: 'changed' };
  },
});
