// Pure: Lab -> Plan (stages -> steps with the commands they will run). `virtlab plan` prints it.
import { assertionTitle } from '../kinds/checks/index.ts';
import { stepCommands, stepMachine, stepStage, stepTitle } from '../kinds/steps/index.ts';
import type { Lab } from '../lab/model.ts';
import type { Stage } from '../report/events.ts';

export interface PlanStep {
  id: string;
  title: string;
  on?: string;
  commands: string[][];
}

export interface Plan {
  lab: string;
  description: string;
  machines: {
    name: string;
    role: string;
    ram: number;
    vcpu: number;
    nics: string[];
    vm?: boolean;
    devices: string[];
  }[];
  networks: { name: string; subnet: string; gateway: string; dhcp?: string; macFiltering: boolean }[];
  libvirtNetworks: { name: string; on: string; forward: string; dev?: string; bridge?: string; detail?: string }[];
  guests: { name: string; on: string; image: string; network: string; mac: string; ram: number }[];
  stages: { stage: Stage; steps: PlanStep[] }[];
}

/** The lab's machines, networks and guests as plan shows them. */
function topology(lab: Lab): Pick<Plan, 'machines' | 'networks' | 'libvirtNetworks' | 'guests'> {
  return {
    machines: lab.machines.map((m) => ({
      name: m.name,
      role: m.role,
      ram: m.ram,
      vcpu: m.vcpu,
      nics: m.nics.map((n) => `${n.name} ${n.address} on ${n.network} (${n.mac})`),
      ...(m.provider === 'vm' ? { vm: true } : {}),
      devices: lab.devices
        .filter((d) => d.on === m.name)
        .map(
          (d) =>
            `${d.name} ${d.type}${d.vlan ? ` ${d.vlan}` : ''}${d.over.length ? ` over ${d.over.join(', ')}` : ''}${d.address ? ` ${d.address}` : ''} (step ${d.step})`,
        ),
    })),
    networks: lab.networks.map((n) => ({
      name: n.name,
      subnet: n.subnet,
      gateway: n.gateway,
      dhcp: n.dhcp ? `${n.dhcp.start}-${n.dhcp.end}` : undefined,
      macFiltering: n.macFiltering,
    })),
    libvirtNetworks: lab.libvirtNetworks.map((n) => ({
      name: n.name,
      on: n.on,
      forward: n.forward,
      dev: n.dev,
      bridge: n.bridge,
      detail:
        [n.virtualport, n.vlan !== undefined ? `vlan ${n.vlan}` : undefined].filter(Boolean).join(', ') || undefined,
    })),
    guests: lab.guests.map((g) => ({
      name: g.name,
      on: g.on,
      image: g.image.ref,
      network: g.bridge ? `bridge ${g.bridge}` : g.network,
      mac: g.mac,
      ram: g.ram,
    })),
  };
}

export function buildPlan(lab: Lab): Plan {
  const setup = lab.steps.filter((s) => stepStage(s) === 'setup');
  const uploads = lab.steps.filter((s) => stepStage(s) === 'upload');
  return {
    lab: lab.name,
    description: lab.description,
    ...topology(lab),
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
            title: `run playbook ${m.provision!.split('/').pop()} on ${m.name}${m.provisioner === 'ansible' ? ' with ansible-playbook' : ''}`,
            on: m.name,
            commands: [],
          })),
      },
      {
        stage: 'upload',
        steps: uploads.map((s) => ({
          id: s.id,
          title: stepTitle(s),
          on: stepMachine(s),
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
