// bond: a bond of NICs on a machine (active-backup, 802.3ad...), with link monitoring.
import type { StepBase } from '../../lab/model.ts';
import { defineStep, ref } from '../define.ts';
import { addressCommands, createDevice, type DeviceStep, deviceFields, resolveDevice } from './device.ts';

const MODES = [
  'balance-rr',
  'active-backup',
  'balance-xor',
  'broadcast',
  '802.3ad',
  'balance-tlb',
  'balance-alb',
] as const;

export interface BondStep extends StepBase, DeviceStep {
  kind: 'bond';
  members: string[];
  mode: (typeof MODES)[number];
  miimon: number;
}

interface Raw {
  on: string;
  name: string;
  members: string[];
  mode?: BondStep['mode'];
  miimon?: number;
  address?: string;
}

export const bond = defineStep<BondStep, Raw>({
  kind: 'bond',
  summary: 'a bond of NICs on a machine (active-backup by default), with link monitoring',
  stage: 'setup',
  schema: {
    required: ['on', 'name', 'members'],
    properties: {
      ...deviceFields,
      members: { type: 'array', minItems: 1, items: ref('ifName'), description: 'The NICs bonded together.' },
      mode: { enum: [...MODES], description: 'The bonding mode (default active-backup).' },
      miimon: {
        type: 'integer',
        minimum: 0,
        maximum: 10000,
        description: 'Link monitoring interval in ms (default 100).',
      },
    },
  },
  resolve(raw, ctx, at, base) {
    const d = resolveDevice(raw, ctx, at, { type: 'bond', over: raw.members }, base, (i) => [...at, 'members', i]);
    return (
      d && {
        ...base,
        kind: 'bond',
        ...d,
        members: raw.members,
        mode: raw.mode ?? 'active-backup',
        miimon: raw.miimon ?? 100,
      }
    );
  },
  title: (s) => `bond ${s.name} (${s.mode}) of ${s.members.join(', ')} on ${s.on}${s.address ? `, ${s.address}` : ''}`,
  machine: (s) => s.on,
  requires: () => ['bonding'],
  commands: (s) => [
    ['ip', 'link', 'add', 'name', s.name, 'type', 'bond', 'mode', s.mode, 'miimon', String(s.miimon)],
    // a NIC joins a bond only while it is down
    ...s.members.flatMap((m) => [
      ['ip', 'link', 'set', 'dev', m, 'down'],
      ['ip', 'link', 'set', 'dev', m, 'master', s.name],
      ['ip', 'link', 'set', 'dev', m, 'up'],
    ]),
    ...addressCommands(s),
  ],
  async execute(step, s) {
    await createDevice(
      s,
      step,
      bond.commands(step, () => 'qemu'),
    );
    return { status: 'changed', detail: `members ${step.members.join(', ')}` };
  },
});
