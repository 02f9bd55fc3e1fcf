// guest: a guest VM on a hypervisor, launched with virt-install (or bare QEMU on a macvtap, the seed's way).

import { normalize } from 'node:path';
import * as cmd from '../../hypervisor/commands.ts';
import * as ops from '../../hypervisor/ops.ts';
import { parseIp } from '../../lab/ipv4.ts';
import { type Guest, type Path, qemuMacvtapName, type StepBase } from '../../lab/model.ts';
import type { ResolveContext } from '../../lab/resolving.ts';
import { ConsoleExecutor } from '../../transport/console.ts';
import { defineStep, ref } from '../define.ts';
import { exec, guestVirt, nodeExec, record } from '../session.ts';

export interface GuestStep extends StepBase {
  kind: 'guest';
  on: string;
  guest: Guest;
}

interface Raw {
  on: string;
  name: string;
  image: string;
  network?: string;
  ram?: number;
  vcpus?: number;
  mac?: string;
  wait?: boolean;
  tap?: string;
  leases?: { on: string; path: string };
  ip?: string;
  gateway?: string;
  direct?: { dev: string; mode?: string };
  bridge?: string;
  launch?: 'virt-install' | 'qemu';
}

const schema = {
  required: ['on', 'name', 'image'],
  properties: {
    on: ref('machineName'),
    name: ref('objName'),
    image: ref('imageRef'),
    network: ref('objName', "The libvirt network the guest's NIC attaches to."),
    ram: { type: 'integer', minimum: 80, maximum: 65536, description: 'MiB (default 128).' },
    vcpus: { type: 'integer', minimum: 1, maximum: 16 },
    mac: ref('mac', 'Default: stable per lab and guest (52:54:00:...).'),
    wait: { type: 'boolean', description: 'Wait until the guest is ready (lease + ready line); default true.' },
    tap: ref(
      'nicName',
      "Instead of network: a routed tap device of this name (libvirt type='ethernet'), set up by the lab's own steps.",
    ),
    leases: {
      type: 'object',
      additionalProperties: false,
      required: ['on', 'path'],
      properties: { on: ref('machineName'), path: { type: 'string', pattern: '^/[A-Za-z0-9_./-]+$' } },
      description:
        'Where the DHCP server that serves this guest keeps its leases (for a DHCP server the lab runs itself).',
    },
    ip: {
      type: 'string',
      pattern: '^\\d{1,3}(\\.\\d{1,3}){3}/\\d{1,2}$',
      description:
        'A static address (A.B.C.D/NN) given on the kernel command line instead of DHCP (the guest boots its kernel directly).',
    },
    gateway: ref('ipv4', 'With ip: the default gateway.'),
    direct: {
      type: 'object',
      additionalProperties: false,
      required: ['dev'],
      properties: { dev: ref('ifName'), mode: { enum: ['bridge', 'vepa', 'private', 'passthrough'] } },
      description:
        "Instead of network: <interface type='direct'> on a NIC of the hypervisor (macvtap without a libvirt network).",
    },
    bridge: ref(
      'ifName',
      "Instead of network: a Linux bridge an earlier step built; the guest's NIC joins it directly (virt-install --network bridge=...).",
    ),
    launch: {
      enum: ['virt-install', 'qemu'],
      description:
        'virt-install (libvirt, the default) or qemu: no libvirt at all; virtlab creates the macvtap of `direct` with ip link and hands its /dev/tapN to QEMU as an open file descriptor.',
    },
  },
};

/** Where a lab's own DHCP server may keep its leases: places of the machine, never the host's files. */
const LEASE_DIRS = [`${cmd.WORK_DIR}/`, '/var/lib/libvirt/', '/run/', '/tmp/'];

function leasesPathProblem(path: string): string | undefined {
  if (normalize(path) !== path) return 'is not a plain path (no "..", "." or "//")';
  return LEASE_DIRS.some((d) => path.startsWith(d)) ? undefined : 'is not a place a lab may read';
}

function checkStaticIp(ctx: ResolveContext, at: Path, value: string): void {
  const [ip = '', prefix] = value.split('/');
  if (parseIp(ip) === undefined || !(Number(prefix) >= 1 && Number(prefix) <= 32)) {
    ctx.err(at, `"${value}" is not a valid address with its prefix length (A.B.C.D/NN)`);
    return;
  }
  const owner = ctx.addressOwner(ip);
  if (owner)
    ctx.err(at, `the guest's static address ${ip} is already used by ${owner}`, 'pick a free address on that network');
}

export const guest = defineStep<GuestStep, Raw>({
  kind: 'guest',
  summary: 'launches a guest on a hypervisor (virt-install, or bare QEMU on a macvtap)',
  stage: 'setup',
  schema,
  resolve(raw, ctx, at, base) {
    const on = raw.on;
    if (!ctx.checkMachine([...at, 'on'], on, 'hypervisor')) return undefined;
    const img = ctx.imageRef(raw.image, [...at, 'image']);
    if (img && !ctx.uploaded(on).has(`image:${raw.image}`)) {
      ctx.err(
        [...at, 'image'],
        `image "${raw.image}" is not uploaded to ${on} by an earlier step`,
        `add it to the images of an upload step to ${on}`,
      );
    }
    if (raw.launch === 'qemu' && raw.direct === undefined) {
      ctx.err([...at, 'launch'], 'a guest launched by bare QEMU needs "direct" (the NIC its macvtap sits on)');
    }
    if ([raw.network, raw.tap, raw.direct, raw.bridge].filter((x) => x !== undefined).length !== 1) {
      const kinds =
        '"network" (a libvirt network), "tap" (a routed tap device), "direct" (macvtap on a NIC) or "bridge" (a Linux bridge a step built)';
      ctx.err(at, `a guest needs exactly one of ${kinds}`);
    } else if (raw.bridge !== undefined) {
      const isBridge =
        ctx.devices.some((d) => d.on === on && d.name === raw.bridge && d.type === 'bridge') ||
        ctx.builtByCommand(on, raw.bridge);
      if (ctx.checkInterface([...at, 'bridge'], on, raw.bridge) && !isBridge) {
        ctx.err(
          [...at, 'bridge'],
          `"${raw.bridge}" on ${on} is not a Linux bridge a step built`,
          'build it with a bridge step first',
        );
      }
    } else if (raw.direct !== undefined) {
      ctx.checkInterface([...at, 'direct', 'dev'], on, raw.direct.dev);
    } else if (raw.network !== undefined) {
      // a tap is routed by the lab's own steps: nothing to check for it here
      if (!ctx.libvirtNetworks.some((n) => n.on === on && n.name === raw.network)) {
        ctx.err([...at, 'network'], `network "${raw.network}" is not defined on ${on} by an earlier net-define step`);
      } else if (!ctx.started.has(`${on}/${raw.network}`)) {
        ctx.err([...at, 'network'], `network "${raw.network}" is not started on ${on} by an earlier net-start step`);
      }
    }
    if (ctx.guests.some((g) => g.name === raw.name)) ctx.err([...at, 'name'], `duplicate guest name "${raw.name}"`);
    if (ctx.machine(raw.name)) ctx.err([...at, 'name'], `guest name "${raw.name}" is also a machine name`);
    const network =
      raw.network ?? (raw.tap ? `tap:${raw.tap}` : raw.bridge ? `bridge:${raw.bridge}` : `direct:${raw.direct?.dev}`);
    const mac = (raw.mac ?? ctx.mac(raw.name)).toLowerCase();
    const g: Guest = {
      name: raw.name,
      on,
      image: img ?? { name: raw.image, ref: raw.image },
      network,
      tap: raw.tap,
      leases: raw.leases,
      direct: raw.direct ? { dev: raw.direct.dev, mode: raw.direct.mode ?? 'bridge' } : undefined,
      ...(raw.bridge ? { bridge: raw.bridge } : {}),
      staticIp: raw.ip ? { address: raw.ip, gateway: raw.gateway } : undefined,
      qemu: raw.launch === 'qemu' ? true : undefined,
      ram: raw.ram ?? 128,
      vcpus: raw.vcpus ?? 1,
      mac,
      wait: raw.wait ?? true,
      step: base.id,
      nics: [{ network, mac, step: base.id }],
    };
    ctx.claimMac(raw.mac ? [...at, 'mac'] : at, mac, `guest ${raw.name}`);
    if (raw.ip) checkStaticIp(ctx, [...at, 'ip'], raw.ip);
    if (raw.leases) {
      if (!ctx.checkMachine([...at, 'leases', 'on'], raw.leases.on)) return undefined;
      const why = leasesPathProblem(raw.leases.path);
      if (why)
        ctx.err(
          [...at, 'leases', 'path'],
          `leases path ${raw.leases.path} ${why}`,
          `a lab's own DHCP server keeps its leases under ${LEASE_DIRS.join(', ')}`,
        );
    }
    ctx.guests.push(g);
    return { ...base, kind: 'guest', on, guest: g };
  },
  title(s) {
    const g = s.guest;
    const how = g.qemu
      ? `bare QEMU on a macvtap of ${g.direct!.dev}`
      : g.tap
        ? `routed tap ${g.tap}`
        : g.direct
          ? `direct macvtap on ${g.direct.dev} (${g.direct.mode})`
          : g.bridge
            ? `joining bridge ${g.bridge}`
            : `network ${g.network}`;
    return `launch guest "${g.name}" (${g.image.ref}, ${g.ram} MiB) on ${s.on}, ${how}${g.staticIp ? `, static ${g.staticIp.address}` : ''}`;
  },
  machine: (s) => s.on,
  commands(s, virtType) {
    const g = s.guest;
    const launch = g.qemu
      ? cmd.qemuMacvtap(g, qemuMacvtapName(g.name), virtType(s.on) === 'kvm' ? 'kvm' : 'tcg')
      : cmd.virtInstall(g, virtType(s.on));
    return [cmd.guestDisk(g), launch];
  },
  async execute(step, s) {
    const g = step.guest;
    record(s, { kind: 'remote-file', path: cmd.guestDiskPath(g), owner: step.on });
    record(s, { kind: 'remote-file', path: `/run/virtlab-console-${g.name}.pid`, owner: step.on });
    if (g.qemu) {
      const op = { type: 'stop-qemu' as const, guest: g.name };
      record(s, { kind: 'undo', what: `bare QEMU guest ${g.name} and its macvtap`, owner: step.on, op });
      record(s, { kind: 'remote-file', path: cmd.consoleLogPath(g.name), owner: step.on });
      record(s, { kind: 'remote-file', path: cmd.qemuOutPath(g.name), owner: step.on });
      await ops.launchGuest(exec(s, step.on), g, guestVirt(s, step.on));
    } else {
      const r = record(s, { kind: 'domain', name: g.name, owner: step.on });
      await ops.launchGuest(exec(s, step.on), g, guestVirt(s, step.on));
      // the domain's UUID is the mark a teardown checks before it destroys a domain of this name
      const uuid = await ops.domainUuid(exec(s, step.on), g.name);
      s.store.update(() => {
        if (r.kind === 'domain') r.uuid = uuid;
      });
    }
    // get the serial console ready while the guest boots (checks from inside the guest use it)
    const c = nodeExec(s, g.name);
    if (c instanceof ConsoleExecutor) c.attach().catch(() => {});
    return { status: 'changed', detail: `mac ${g.mac}` };
  },
});
