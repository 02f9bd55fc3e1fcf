// net-start: `virsh net-start` of a network an earlier step defined.
import * as cmd from '../../hypervisor/commands.ts';
import * as ops from '../../hypervisor/ops.ts';
import type { StepBase } from '../../lab/model.ts';
import { didYouMean } from '../../lab/suggest.ts';
import { defineStep, ref } from '../define.ts';
import { exec } from '../session.ts';

export interface NetStartStep extends StepBase {
  kind: 'net-start';
  on: string;
  network: string;
}

interface Raw {
  on: string;
  network: string;
}

export const netStart = defineStep<NetStartStep, Raw>({
  kind: 'net-start',
  summary: 'starts a libvirt network an earlier step defined (virsh net-start)',
  stage: 'setup',
  schema: { required: ['on', 'network'], properties: { on: ref('machineName'), network: ref('objName') } },
  resolve(raw, ctx, at, base) {
    if (!ctx.checkMachine([...at, 'on'], raw.on, 'hypervisor')) return undefined;
    const known = ctx.libvirtNetworks.filter((n) => n.on === raw.on).map((n) => n.name);
    if (!known.includes(raw.network)) {
      const guess = didYouMean(raw.network, known);
      ctx.err(
        [...at, 'network'],
        `network "${raw.network}" is not defined on ${raw.on} by an earlier net-define step${guess ? `; did you mean "${guess}"?` : ''}`,
      );
    }
    ctx.started.add(`${raw.on}/${raw.network}`);
    return { ...base, kind: 'net-start', on: raw.on, network: raw.network };
  },
  title: (s) => `start libvirt network "${s.network}" on ${s.on}`,
  machine: (s) => s.on,
  commands: (s) => [cmd.netStart(s.network)],
  async execute(step, s) {
    await ops.startNetwork(exec(s, step.on), step.network);
    return { status: 'changed' };
  },
});
