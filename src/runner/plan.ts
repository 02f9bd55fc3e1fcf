// Pure: Lab -> Plan (stages -> steps with the commands they will run). `virtlab plan` prints it.
import * as cmd from '../hypervisor/commands.ts';
import type { Assertion, Lab, Step } from '../lab/model.ts';
import { endpointName, qemuMacvtapName } from '../lab/model.ts';

export const STAGES = [
  'preflight',
  'up',
  'provision',
  'upload',
  'setup',
  'ready',
  'assert',
  'collect',
  'teardown',
] as const;
export type Stage = (typeof STAGES)[number];

export interface PlanStep {
  id: string;
  title: string;
  on?: string;
  commands: string[][];
}

export interface Plan {
  lab: string;
  description: string;
  machines: { name: string; role: string; ram: number; vcpu: number; nics: string[] }[];
  networks: { name: string; subnet: string; gateway: string; dhcp?: string; macFiltering: boolean }[];
  libvirtNetworks: { name: string; on: string; forward: string; dev?: string }[];
  guests: { name: string; on: string; image: string; network: string; mac: string; ram: number }[];
  stages: { stage: Stage; steps: PlanStep[] }[];
}

/** virtType: how guests on a hypervisor are accelerated, when known (a live instance); TCG otherwise. */
export function stepCommands(s: Step, virtType: (machine: string) => 'qemu' | 'kvm' = () => 'qemu'): string[][] {
  switch (s.kind) {
    case 'upload':
      return [
        ...s.files.map((f) => ['upload', f.rel, cmd.labFilePath(f.rel)]),
        ...s.images.map((i) => ['upload', `image:${i.ref}`, cmd.imagePath(i)]),
      ];
    case 'net-define':
      return [cmd.netDefine(cmd.labFilePath(s.rel))];
    case 'net-start':
      return [cmd.netStart(s.network)];
    case 'promisc':
      return [cmd.promisc(s.nic, s.state)];
    case 'guest':
      return [
        cmd.guestDisk(s.guest),
        s.guest.qemu
          ? cmd.qemuMacvtap(s.guest, qemuMacvtapName(s.guest.name), virtType(s.on) === 'kvm' ? 'kvm' : 'tcg')
          : cmd.virtInstall(s.guest, virtType(s.on)),
      ];
    case 'command':
      return s.argv
        ? [s.argv]
        : [
            ['upload', s.script!.rel, cmd.labFilePath(s.script!.rel)],
            ['sh', cmd.labFilePath(s.script!.rel)],
          ];
    case 'hairpin':
      return [['bridge', 'link', 'set', 'dev', `<port of ${s.machine} ${s.nic}>`, 'hairpin', s.state]];
    case 'attach-interface':
      return [cmd.attachInterface(s.guest, s.network, s.mac)];
    case 'check':
      return [];
  }
}

export function stepMachine(s: Step): string | undefined {
  return s.kind === 'upload' ? s.to : s.kind === 'hairpin' || s.kind === 'check' ? undefined : s.on;
}

export function stepTitle(s: Step): string {
  switch (s.kind) {
    case 'upload':
      return `upload ${[...s.files.map((f) => f.rel), ...s.images.map((i) => `image ${i.ref}`)].join(', ')} to ${s.to}`;
    case 'net-define':
      return `define libvirt network "${s.network}" from ${s.rel} on ${s.on}`;
    case 'net-start':
      return `start libvirt network "${s.network}" on ${s.on}`;
    case 'promisc':
      return `promiscuous mode ${s.state} for ${s.nic} on ${s.on}`;
    case 'guest':
      return `launch guest "${s.guest.name}" (${s.guest.image.ref}, ${s.guest.ram} MiB) on ${s.on}, ${s.guest.qemu ? `bare QEMU on a macvtap of ${s.guest.direct!.dev}` : s.guest.tap ? `routed tap ${s.guest.tap}` : s.guest.direct ? `direct macvtap on ${s.guest.direct.dev} (${s.guest.direct.mode})` : `network ${s.guest.network}`}${s.guest.staticIp ? `, static ${s.guest.staticIp.address}` : ''}`;
    case 'command':
      return `run ${s.argv ? s.argv.join(' ') : s.script!.rel} on ${s.on}`;
    case 'hairpin':
      return `hairpin ${s.state} on the ${s.network} switch port of ${s.machine} ${s.nic}`;
    case 'attach-interface':
      return `attach a NIC on ${s.network} to running guest "${s.guest}" on ${s.on} (mac ${s.mac})`;
    case 'check':
      return `check now: ${s.assertions.join(', ')}`;
  }
}

export function assertionTitle(a: Assertion): string {
  const exp = a.expect === 'fail' ? ' (expected to fail)' : '';
  switch (a.kind) {
    case 'lease':
      return `guest ${a.guest} holds a DHCP lease${a.network ? ` on ${a.network}` : ''}${exp}`;
    case 'seen-source':
      return `${a.to} sees ${a.from}'s packets coming from ${endpointName(a.source)}${exp}`;
    case 'ping':
      return `${a.from} can ping ${endpointName(a.to)}${exp}`;
    case 'arp':
      return `${a.on}'s neighbour entry for ${endpointName(a.target)} carries ${a.answeredBy ?? endpointName(a.target)}'s MAC${exp}`;
    case 'reachability':
      return `reachability grid (${a.cells.length} pairs: ${[...new Set(a.cells.map((c) => c.from))].join(', ')} -> ...)`;
    case 'guest-ip':
      return `${a.guest}'s own ${a.nic} address equals its lease${exp}`;
    case 'mac-match':
      return `${a.guest}'s MAC equals its host-side device's MAC${exp}`;
    case 'link': {
      const what = a.nic ?? `${a.guestTap}'s host-side device`;
      const props = [
        a.promisc !== undefined ? (a.promisc ? 'is promiscuous' : 'is not promiscuous') : '',
        a.up !== undefined ? (a.up ? 'is up' : 'is down') : '',
        a.ipv4 !== undefined ? (a.ipv4 ? 'has an IPv4 address' : 'has no IPv4 address') : '',
      ].filter(Boolean);
      return `${what} on ${a.on} ${props.join(', ')}${exp}`;
    }
  }
}

export function buildPlan(lab: Lab): Plan {
  const setup = lab.steps.filter((s) => s.kind !== 'upload');
  const uploads = lab.steps.filter((s) => s.kind === 'upload');
  return {
    lab: lab.name,
    description: lab.description,
    machines: lab.machines.map((m) => ({
      name: m.name,
      role: m.role,
      ram: m.ram,
      vcpu: m.vcpu,
      nics: m.nics.map((n) => `${n.name} ${n.address} on ${n.network} (${n.mac})`),
    })),
    networks: lab.networks.map((n) => ({
      name: n.name,
      subnet: n.subnet,
      gateway: n.gateway,
      dhcp: n.dhcp ? `${n.dhcp.start}-${n.dhcp.end}` : undefined,
      macFiltering: n.macFiltering,
    })),
    libvirtNetworks: lab.libvirtNetworks.map((n) => ({ name: n.name, on: n.on, forward: n.forward, dev: n.dev })),
    guests: lab.guests.map((g) => ({
      name: g.name,
      on: g.on,
      image: g.image.ref,
      network: g.network,
      mac: g.mac,
      ram: g.ram,
    })),
    stages: [
      {
        stage: 'preflight',
        steps: [
          { id: 'preflight', title: 'check the host: root, kernel features, binaries, free names', commands: [] },
        ],
      },
      {
        stage: 'up',
        steps: lab.machines.map((m) => ({
          id: `up-${m.name}`,
          title: `bring up ${m.role} ${m.name} (${m.ram} MiB, ${m.vcpu} vCPU)`,
          on: m.name,
          commands: [],
        })),
      },
      {
        stage: 'provision',
        steps: lab.machines
          .filter((m) => m.provision)
          .map((m) => ({
            id: `provision-${m.name}`,
            title: `run playbook ${m.provision!.split('/').pop()} on ${m.name}`,
            on: m.name,
            commands: [],
          })),
      },
      {
        stage: 'upload',
        steps: uploads.map((s) => ({
          id: s.id,
          title: stepTitle(s),
          on: s.kind === 'upload' ? s.to : undefined,
          commands: stepCommands(s),
        })),
      },
      {
        stage: 'setup',
        steps: setup.map((s) => ({ id: s.id, title: stepTitle(s), on: stepMachine(s), commands: stepCommands(s) })),
      },
      {
        stage: 'ready',
        steps: lab.guests
          .filter((g) => g.wait)
          .map((g) => ({
            id: `ready-${g.name}`,
            title: `wait until ${g.name} holds a lease and printed its ready line`,
            on: g.on,
            commands: [],
          })),
      },
      { stage: 'assert', steps: lab.assertions.map((a) => ({ id: a.id, title: assertionTitle(a), commands: [] })) },
      {
        stage: 'collect',
        steps: [
          {
            id: 'collect',
            title: 'on failure: console logs, dumpxml, ip -j addr/link/neigh, leases, libvirtd log',
            commands: [],
          },
        ],
      },
      {
        stage: 'teardown',
        steps: [
          ...lab.teardown.map((s) => ({
            id: s.id,
            title: stepTitle(s),
            on: stepMachine(s),
            commands: stepCommands(s),
          })),
          { id: 'teardown', title: 'remove everything the run created, then check nothing is left', commands: [] },
        ],
      },
    ],
  };
}
