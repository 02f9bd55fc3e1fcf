// veth: a pair of connected devices on a machine (a wire between two of its bridges, or a host end for tests).
import type { StepBase } from '../../lab/model.ts';
import { defineStep, ref } from '../define.ts';
import { addressCommands, createDevice, type DeviceStep, deviceFields, resolveDevice } from './device.ts';

export interface VethStep extends StepBase, DeviceStep {
  kind: 'veth';
  peer: string;
}

interface Raw {
  on: string;
  name: string;
  peer: string;
  address?: string;
}

export const veth = defineStep<VethStep, Raw>({
  kind: 'veth',
  summary: 'a veth pair on a machine (both ends usable as devices afterwards)',
  stage: 'setup',
  schema: {
    required: ['on', 'name', 'peer'],
    properties: { ...deviceFields, peer: ref('ifName', 'The other end of the pair.') },
  },
  resolve(raw, ctx, at, base) {
    const d = resolveDevice(raw, ctx, at, { type: 'veth', over: [] }, base, () => at);
    if (!d) return undefined;
    if (
      !ctx.declareDevice([...at, 'peer'], { name: raw.peer, on: raw.on, type: 'veth', over: [raw.name], step: base.id })
    )
      return undefined;
    return { ...base, kind: 'veth', ...d, peer: raw.peer };
  },
  title: (s) => `veth pair ${s.name} <-> ${s.peer} on ${s.on}${s.address ? `, ${s.address} on ${s.name}` : ''}`,
  machine: (s) => s.on,
  requires: () => ['veth'],
  commands: (s) => [
    ['ip', 'link', 'add', 'name', s.name, 'type', 'veth', 'peer', 'name', s.peer],
    ['ip', 'link', 'set', 'dev', s.peer, 'up'],
    ...addressCommands(s),
  ],
  async execute(step, s) {
    await createDevice(
      s,
      step,
      veth.commands(step, () => 'qemu'),
    );
    return { status: 'changed' };
  },
});
