// vlan: an 802.1Q (or 802.1ad) VLAN device on a NIC or device of a machine, e.g. eth1.100.
import type { StepBase } from '../../lab/model.ts';
import { defineStep, ref } from '../define.ts';
import { addressCommands, createDevice, type DeviceStep, deviceFields, resolveDevice } from './device.ts';

export interface VlanStep extends StepBase, DeviceStep {
  kind: 'vlan';
  link: string;
  /** the VLAN id (802.1Q tag) */
  vlan: number;
  protocol: '802.1Q' | '802.1ad';
}

interface Raw {
  on: string;
  name: string;
  link: string;
  vlan: number;
  protocol?: '802.1Q' | '802.1ad';
  address?: string;
}

export const vlan = defineStep<VlanStep, Raw>({
  kind: 'vlan',
  summary: 'a VLAN device (802.1Q, or 802.1ad for an outer tag) on a NIC or device of a machine',
  stage: 'setup',
  schema: {
    required: ['on', 'name', 'link', 'vlan'],
    properties: {
      ...deviceFields,
      link: ref('ifName', 'The NIC or device the VLAN is tagged on.'),
      vlan: { type: 'integer', minimum: 1, maximum: 4094, description: 'The VLAN id (the tag).' },
      protocol: { enum: ['802.1Q', '802.1ad'], description: '802.1Q (default) or 802.1ad (an outer tag, QinQ).' },
    },
  },
  resolve(raw, ctx, at, base) {
    const d = resolveDevice(raw, ctx, at, { type: 'vlan', over: [raw.link], vlan: raw.vlan }, base, () => [
      ...at,
      'link',
    ]);
    return d && { ...base, kind: 'vlan', ...d, link: raw.link, vlan: raw.vlan, protocol: raw.protocol ?? '802.1Q' };
  },
  title: (s) => `VLAN ${s.vlan} (${s.protocol}) ${s.name} on ${s.link} of ${s.on}${s.address ? `, ${s.address}` : ''}`,
  machine: (s) => s.on,
  requires: () => ['8021q'],
  commands: (s) => [
    ['ip', 'link', 'add', 'link', s.link, 'name', s.name, 'type', 'vlan', 'protocol', s.protocol, 'id', String(s.vlan)],
    ...addressCommands(s),
  ],
  async execute(step, s) {
    await createDevice(
      s,
      step,
      vlan.commands(step, () => 'qemu'),
    );
    return { status: 'changed' };
  },
});
