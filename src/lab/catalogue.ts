// machines.yml: the classic Vagrant-lab list, or the richer `machines:` mapping, normalised to one shape.
import type { Path, Role } from './model.ts';
import type { Source } from './source.ts';

export interface CatalogueMachine {
  name: string;
  role?: Role;
  ram: number;
  vcpu: number;
  ipAddr?: string;
  nested: boolean;
  provision?: string;
  provisioner?: 'builtin' | 'ansible';
  provider?: 'netns' | 'ssh' | 'vm';
  /** vm provider: the Debian kernel package (or version) the machine boots */
  kernel?: string;
  /** where it is defined, for diagnostics */
  path: Path;
}

export interface Catalogue {
  source: Source;
  machines: Map<string, CatalogueMachine>;
}

const num = (v: unknown, dflt: number): number => (v === undefined ? dflt : Number(v));

/** A machine as machines.yml writes it (both forms; the schema has checked it). */
interface RawCatalogueMachine {
  name: string;
  role?: Role;
  ram?: number | string;
  vcpu?: number | string;
  ip_addr?: string;
  nested?: boolean;
  provision?: string | boolean;
  provisioner?: CatalogueMachine['provisioner'];
  provider?: CatalogueMachine['provider'];
  kernel?: string;
}

/** Assumes the data passed schema validation. */
export function normaliseCatalogue(source: Source): Catalogue {
  const machines = new Map<string, CatalogueMachine>();
  const data = source.data as RawCatalogueMachine[] | { machines: Record<string, Omit<RawCatalogueMachine, 'name'>> };
  if (Array.isArray(data)) {
    data.forEach((m, i) => {
      machines.set(m.name, {
        name: m.name,
        role: m.nested ? 'hypervisor' : undefined,
        ram: num(m.ram, 512),
        vcpu: num(m.vcpu, 1),
        ipAddr: m.ip_addr,
        nested: Boolean(m.nested),
        provision: typeof m.provision === 'string' ? m.provision : undefined,
        provisioner: m.provisioner,
        path: [i],
      });
    });
  } else {
    for (const [name, m] of Object.entries(data.machines)) {
      machines.set(name, {
        name,
        role: m.role ?? (m.nested ? 'hypervisor' : undefined),
        ram: num(m.ram, 512),
        vcpu: num(m.vcpu, 1),
        ipAddr: m.ip_addr,
        nested: Boolean(m.nested),
        provision: typeof m.provision === 'string' ? m.provision : undefined,
        provisioner: m.provisioner,
        provider: m.provider,
        kernel: m.kernel,
        path: ['machines', name],
      });
    }
  }
  return { source, machines };
}

/** Names defined more than once in the classic list (the mapping form cannot repeat a key). */
export function duplicateNames(source: Source): { name: string; path: Path }[] {
  const data = source.data;
  if (!Array.isArray(data)) return [];
  const seen = new Set<string>();
  const dups: { name: string; path: Path }[] = [];
  (data as ({ name?: string } | null)[]).forEach((m, i) => {
    if (typeof m?.name !== 'string') return;
    if (seen.has(m.name)) dups.push({ name: m.name, path: [i, 'name'] });
    seen.add(m.name);
  });
  return dups;
}
