// macvlan: a macvlan device on a NIC or device of a machine; in bridge mode it lets the host reach its own
// macvtap guests on the same lower device (seed 004, "Connect host via macvlan").
import type { StepBase } from '../../lab/model.ts';
import { defineStep, ref } from '../define.ts';
import { addressCommands, createDevice, type DeviceStep, deviceFields, resolveDevice } from './device.ts';

export interface MacvlanStep extends StepBase, DeviceStep {
  kind: 'macvlan';
  link: string;
  mode: 'bridge' | 'vepa' | 'private' | 'passthru';
  mac?: string;
}

interface Raw {
  on: string;
  name: string;
  link: string;
  mode?: MacvlanStep['mode'];
  mac?: string;
  address?: string;
}

export const macvlan = defineStep<MacvlanStep, Raw>({
  kind: 'macvlan',
  summary: 'a macvlan device on a NIC or device of a machine (bridge mode reaches macvtap guests on the same NIC)',
  stage: 'setup',
  schema: {
    required: ['on', 'name', 'link'],
    properties: {
      ...deviceFields,
      link: ref('ifName', 'The lower device.'),
      mode: { enum: ['bridge', 'vepa', 'private', 'passthru'], description: 'The macvlan mode (default bridge).' },
      mac: ref('mac', 'Default: stable per lab and device.'),
    },
  },
  resolve(raw, ctx, at, base) {
    const d = resolveDevice(raw, ctx, at, { type: 'macvlan', over: [raw.link] }, base, () => [...at, 'link']);
    if (!d) return undefined;
    const mac = (raw.mac ?? ctx.mac(`${raw.on}/${raw.name}`)).toLowerCase();
    ctx.claimMac(raw.mac ? [...at, 'mac'] : at, mac, `${raw.on} ${raw.name}`);
    return { ...base, kind: 'macvlan', ...d, link: raw.link, mode: raw.mode ?? 'bridge', mac };
  },
  title: (s) => `macvlan ${s.name} (${s.mode}) on ${s.link} of ${s.on}${s.address ? `, ${s.address}` : ''}`,
  machine: (s) => s.on,
  requires: () => ['macvlan'],
  commands: (s) => [
    [
      'ip',
      'link',
      'add',
      'link',
      s.link,
      'name',
      s.name,
      ...(s.mac ? ['address', s.mac] : []),
      'type',
      'macvlan',
      'mode',
      s.mode,
    ],
    ...addressCommands(s),
  ],
  async execute(step, s) {
    await createDevice(
      s,
      step,
      macvlan.commands(step, () => 'qemu'),
    );
    return { status: 'changed', detail: step.mac ? `mac ${step.mac}` : undefined };
  },
});
