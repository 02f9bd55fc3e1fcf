// promisc: promiscuous mode on (or off) for a NIC of a machine; the previous state comes back at teardown.
import * as cmd from '../../hypervisor/commands.ts';
import * as ops from '../../hypervisor/ops.ts';
import type { StepBase } from '../../lab/model.ts';
import { defineStep, ref } from '../define.ts';
import { exec, record } from '../session.ts';

export interface PromiscStep extends StepBase {
  kind: 'promisc';
  on: string;
  nic: string;
  state: 'on' | 'off';
}

interface Raw {
  on: string;
  nic: string;
  state?: 'on' | 'off';
}

export const promisc = defineStep<PromiscStep, Raw>({
  kind: 'promisc',
  summary: 'promiscuous mode on (or off) for a NIC of a machine (ip link set ... promisc on)',
  stage: 'setup',
  schema: {
    required: ['on', 'nic'],
    properties: { on: ref('machineName'), nic: ref('ifName'), state: { enum: ['on', 'off'], default: 'on' } },
  },
  resolve(raw, ctx, at, base) {
    if (!ctx.checkMachine([...at, 'on'], raw.on)) return undefined;
    ctx.checkInterface([...at, 'nic'], raw.on, raw.nic);
    return { ...base, kind: 'promisc', on: raw.on, nic: raw.nic, state: raw.state ?? 'on' };
  },
  title: (s) => `promiscuous mode ${s.state} for ${s.nic} on ${s.on}`,
  machine: (s) => s.on,
  commands: (s) => [cmd.promisc(s.nic, s.state)],
  async execute(step, s) {
    const x = exec(s, step.on);
    const before = (await x.run(['ip', '-o', 'link', 'show', 'dev', step.nic])).stdout;
    const was: 'on' | 'off' = /<[^>]*PROMISC/.test(before) ? 'on' : 'off';
    if (was !== step.state) {
      const op = { type: 'promisc' as const, nic: step.nic, state: was };
      record(s, { kind: 'undo', what: `promiscuous mode of ${step.nic}`, owner: step.on, op });
    }
    await ops.setPromisc(x, step.nic, step.state);
    return { status: was === step.state ? 'ok' : 'changed' };
  },
});
