// hairpin: hairpin mode on the underlay switch port a machine's NIC is plugged into.
import { HostError } from '../../errors.ts';
import type { StepBase } from '../../lab/model.ts';
import { defineStep, ref } from '../define.ts';

export interface HairpinStep extends StepBase {
  kind: 'hairpin';
  network: string;
  machine: string;
  nic: string;
  state: 'on' | 'off';
}

interface Raw {
  network: string;
  machine: string;
  nic: string;
  state?: 'on' | 'off';
}

export const hairpin = defineStep<HairpinStep, Raw>({
  kind: 'hairpin',
  summary:
    "hairpin mode on the switch port a machine's NIC is plugged into (frames may go back out where they came in)",
  stage: 'setup',
  schema: {
    description:
      "Hairpin mode on the switch port a machine's NIC is plugged into (frames may go back out the port they came in).",
    required: ['network', 'machine', 'nic'],
    properties: {
      network: ref('netName', 'The underlay network (switch).'),
      machine: ref('machineName'),
      nic: ref('nicName'),
      state: { enum: ['on', 'off'], default: 'on' },
    },
  },
  resolve(raw, ctx, at, base) {
    if (!ctx.checkMachine([...at, 'machine'], raw.machine)) return undefined;
    const nic = ctx.machine(raw.machine)?.nics.find((n) => n.name === raw.nic);
    if (!ctx.checkNic([...at, 'nic'], raw.machine, raw.nic)) return undefined;
    if (nic && nic.network !== raw.network) {
      ctx.err([...at, 'network'], `${raw.machine} ${raw.nic} is plugged into "${nic.network}", not "${raw.network}"`);
    }
    return {
      ...base,
      kind: 'hairpin',
      network: raw.network,
      machine: raw.machine,
      nic: raw.nic,
      state: raw.state ?? 'on',
    };
  },
  title: (s) => `hairpin ${s.state} on the ${s.network} switch port of ${s.machine} ${s.nic}`,
  machine: () => undefined,
  place: (s) => `the ${s.network} switch`,
  commands: (s) => [['bridge', 'link', 'set', 'dev', `<port of ${s.machine} ${s.nic}>`, 'hairpin', s.state]],
  async execute(step, s) {
    const u = s.underlays.get(step.network);
    const port = u?.ports.find((p) => p.machine === step.machine && p.nic === step.nic)?.port;
    if (!u || !port) throw new HostError(`no switch port for ${step.machine} ${step.nic} on ${step.network}`);
    await u.exec.run(['bridge', 'link', 'set', 'dev', port, 'hairpin', step.state]);
    return { status: 'changed', detail: `port ${port}` };
  },
});
