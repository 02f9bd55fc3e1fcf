// Pure resolution: schema-valid lab data + catalogue -> Lab. The topology first, then each step and assertion by
// its kind's own resolver (src/kinds/), all problems reported at once with their positions.
import { basename, dirname, extname, isAbsolute, join, normalize } from 'node:path';
import type { Diagnostic } from '../errors.ts';
import { checkKind } from '../kinds/checks/index.ts';
import { FAULT_KINDS } from '../kinds/faults.ts';
import { stepKind } from '../kinds/steps/index.ts';
import type { Catalogue } from './catalogue.ts';
import { findImage, IMAGES } from './images.ts';
import { parseIp } from './ipv4.ts';
import { formatIp6, parseIp6 } from './ipv6.ts';
import { stableMac } from './mac.ts';
import type {
  AssertionBase,
  Device,
  Endpoint,
  Fault,
  Guest,
  ImageRef,
  Lab,
  LibvirtNetwork,
  Machine,
  Path,
  StepBase,
  Underlay,
} from './model.ts';
import { RESERVED_NICS } from './reserved.ts';
import { MacRegistry, type RawMachine, type Report, resolveMachines, resolveNetworks } from './resolve-topology.ts';
import type { ResolveContext } from './resolving.ts';
import { diag, displayPath, type Source } from './source.ts';
import { didYouMean } from './suggest.ts';

export interface ResolveInput {
  source: Source;
  catalogue: Catalogue;
  /** folder of playbooks named by machines.yml `provision:` */
  playbookDir: string;
  /** reads a lab file (XML, script); undefined when missing */
  readFile: (absPath: string) => string | undefined;
  /** what a path is, following links: its real path and type; undefined when it does not exist */
  stat: (absPath: string) => { real: string; type: 'file' | 'dir' | 'other' } | undefined;
  params?: Record<string, string>;
  variant?: string;
  variants?: string[];
}

/** The lab file as the schema admits it: the kinds' own fields are read by each kind's resolver. */
interface RawLab {
  name?: string;
  description: string;
  teaches?: string;
  networks?: Record<string, Parameters<typeof resolveNetworks>[0][string]>;
  machines?: Record<string, RawMachine>;
  steps?: RawItem[];
  teardown?: RawItem[];
  assertions?: RawItem[];
  exercise?: Lab['exercise'];
  parameters?: Record<string, unknown>;
  variants?: Record<string, Record<string, unknown>>;
}

type RawItem = {
  because?: string;
  kind: string;
  id?: string;
  description?: string;
  hint?: string;
  expect?: 'pass' | 'fail';
  points?: number;
};

export function resolveLab(input: ResolveInput): { lab?: Lab; diagnostics: Diagnostic[] } {
  const { source } = input;
  const raw = source.data as RawLab;
  const out: Diagnostic[] = [];
  const err: Report = (path, msg, hint, key = false) => out.push(diag(source, path, msg, hint, { key }));
  const labDir = dirname(isAbsolute(source.file) ? source.file : join(process.cwd(), source.file));
  const name = labName(raw, source.file, err);
  const networks = resolveNetworks(raw.networks ?? {}, err);
  const macs = new MacRegistry(err);
  const machines = resolveMachines({
    lab: name,
    raw: raw.machines ?? {},
    catalogue: input.catalogue,
    networks,
    declared: Object.keys(raw.networks ?? {}),
    err,
    macs,
    playbook: (m) => playbookOf(input, m, out),
  });
  const ctx = new Resolver(
    name,
    labDir,
    source.file,
    machines,
    networks.networks,
    Object.keys(raw.machines ?? {}),
    input,
    err,
    macs,
  );
  // once, for the lab as written (each variant renders the same declarations)
  if (input.variant === undefined) checkVariants(raw, err);
  const ids = new Map<string, Path>();
  const steps = resolveItems(raw.steps ?? [], 'steps', ctx, ids);
  const teardown = resolveItems(raw.teardown ?? [], 'teardown', ctx, ids);
  const assertions = resolveAssertions(raw.assertions ?? [], ctx, ids);
  ctx.finish(assertions.map((a) => a.id));
  if (raw.exercise?.from !== undefined && !steps.some((x) => x.id === raw.exercise!.from)) {
    const hint = `its steps: ${steps.map((x) => x.id).join(', ')}`;
    err(['exercise', 'from'], `exercise starts at step "${raw.exercise.from}", which this lab does not have`, hint);
  }
  checkFaults(raw.exercise?.faults ?? [], raw.exercise?.draw, machines, ctx, err);
  for (const [i, c] of (raw.exercise?.checkpoints ?? []).entries()) {
    const at: Path = ['exercise', 'checkpoints', i];
    if (!steps.some((x) => x.id === c.from))
      err(
        [...at, 'from'],
        `checkpoint "${c.name}" starts at step "${c.from}", which this lab does not have`,
        `its steps: ${steps.map((x) => x.id).join(', ')}`,
      );
    for (const [j, id] of c.assertions.entries())
      if (!assertions.some((a) => a.id === id))
        err(
          [...at, 'assertions', j],
          `checkpoint "${c.name}" names check "${id}", which this lab does not have`,
          `its checks: ${assertions.map((a) => a.id).join(', ')}`,
        );
  }
  if (out.length) return { diagnostics: out };
  const lab: Lab = {
    name,
    file: source.file,
    dir: labDir,
    description: raw.description,
    teaches: raw.teaches,
    networks: networks.networks,
    machines,
    libvirtNetworks: ctx.libvirtNetworks,
    devices: ctx.devices,
    guests: ctx.guests,
    steps,
    assertions,
    teardown,
    params: input.params ?? {},
    variant: input.variant,
    variants: input.variants ?? [],
    exercise: raw.exercise,
  };
  return { diagnostics: [], lab };
}

function labName(raw: RawLab, file: string, err: Report): string {
  const fromFile = basename(file, extname(file));
  const name = raw.name ?? fromFile;
  if (raw.name !== undefined && raw.name !== fromFile) {
    err(
      ['name'],
      `lab name "${raw.name}" does not match the file name "${basename(file)}"`,
      `rename the file to ${raw.name}.yml or remove "name"`,
    );
  } else if (!/^[a-z0-9][a-z0-9-]*$/.test(name) || name.length > 24) {
    err(
      [],
      `the file name "${basename(file)}" cannot be a lab name (lowercase letters, digits and "-", at most 24 characters)`,
    );
  }
  return name;
}

function playbookOf(input: ResolveInput, machine: string, out: Diagnostic[]): string | undefined {
  const cat = input.catalogue.machines.get(machine)!;
  if (!cat.provision) return undefined;
  const path = join(input.playbookDir, cat.provision);
  const st = input.stat(path);
  const dir = input.stat(input.playbookDir)?.real;
  const inside = st && dir && st.real.startsWith(`${dir}/`) && st.type === 'file';
  if (inside) return path;
  const why = !st
    ? 'not found in playbooks/'
    : st.type !== 'file'
      ? 'is not a regular file'
      : 'lies outside playbooks/ (through a link)';
  out.push(
    diag(
      input.catalogue.source,
      [...cat.path, 'provision'],
      `playbook "${cat.provision}" of machine ${machine} ${why}`,
    ),
  );
  return undefined;
}

/** Every fault names a machine of the lab and what its kind needs there (a NIC or device, a libvirt network). */
function checkFaults(faults: Fault[], draw: number | undefined, machines: Machine[], ctx: Resolver, err: Report): void {
  faults.forEach((f, i) => {
    const at: Path = ['exercise', 'faults', i];
    if (f.mac !== undefined && f.kind !== 'guest-mac-changed') err([...at, 'mac'], `fault ${f.kind} does not take mac`);
    if (f.kind === 'guest-mac-changed') {
      // a fault inside a guest: `on` names the guest
      if (!ctx.guests.some((g) => g.name === f.on))
        err(
          [...at, 'on'],
          `fault guest-mac-changed: no guest "${f.on}" in this lab`,
          `its guests: ${ctx.guests.map((g) => g.name).join(', ') || '(none)'}`,
        );
      return;
    }
    const m = machines.find((x) => x.name === f.on);
    if (!m) {
      err(
        [...at, 'on'],
        `fault ${f.kind}: no machine "${f.on}" in this lab`,
        `its machines: ${machines.map((x) => x.name).join(', ')}`,
      );
      return;
    }
    const needs: readonly string[] = FAULT_KINDS[f.kind].needs;
    for (const k of ['nic', 'network', 'to', 'guest', 'mode'] as const) {
      if (needs.includes(k) && f[k] === undefined) err(at, `fault ${f.kind} needs ${k}`);
      if (!needs.includes(k) && f[k] !== undefined)
        err([...at, k], `fault ${f.kind} does not take ${k}`, `it takes ${needs.join(', ')}`);
    }
    const devs = [...m.nics.map((n) => n.name), ...ctx.devices.filter((d) => d.on === m.name).map((d) => d.name)];
    if (f.nic !== undefined && needs.includes('nic') && !devs.includes(f.nic))
      err([...at, 'nic'], `${m.name} has no NIC or device "${f.nic}"`, `its NICs and devices: ${devs.join(', ')}`);
    if (f.guest !== undefined && !ctx.guests.some((g) => g.name === f.guest && g.on === m.name))
      err(
        [...at, 'guest'],
        `no guest "${f.guest}" runs on ${m.name}`,
        `its guests: ${
          ctx.guests
            .filter((g) => g.on === m.name)
            .map((g) => g.name)
            .join(', ') || '(none)'
        }`,
      );
    const nets = ctx.libvirtNetworks.filter((n) => n.on === m.name).map((n) => n.name);
    if (f.network !== undefined && needs.includes('network') && !nets.includes(f.network))
      err(
        [...at, 'network'],
        `no libvirt network "${f.network}" on ${m.name}`,
        `its networks: ${nets.join(', ') || '(none)'}`,
      );
  });
  if (draw !== undefined && draw > faults.length)
    err(['exercise', 'draw'], `draw is ${draw}, but the exercise declares ${faults.length} fault(s)`);
}

/** A variant may only set parameters the lab declares (a typo would silently set nothing). */
function checkVariants(raw: RawLab, err: Report): void {
  const declared = Object.keys(raw.parameters ?? {});
  for (const k of Object.keys(raw.exercise?.vary ?? {}))
    if (!declared.includes(k))
      err(
        ['exercise', 'vary', k],
        `the exercise varies "${k}", which is not a parameter of this lab`,
        declared.length
          ? `declared parameters: ${declared.join(', ')}`
          : 'declare it under "parameters:" with its default',
        true,
      );
  for (const [v, params] of Object.entries(raw.variants ?? {})) {
    for (const k of Object.keys(params ?? {})) {
      if (declared.includes(k)) continue;
      const guess = didYouMean(k, declared);
      const hint = declared.length
        ? `declared parameters: ${declared.join(', ')}`
        : 'declare it under "parameters:" with its default';
      err(
        ['variants', v, k],
        `variant "${v}" sets "${k}", which is not a parameter of this lab${guess ? `; did you mean "${guess}"?` : ''}`,
        hint,
        true,
      );
    }
  }
}

function resolveItems(list: RawItem[], base: 'steps' | 'teardown', ctx: Resolver, ids: Map<string, Path>): StepBase[] {
  const steps: StepBase[] = [];
  list.forEach((s, i) => {
    const at: Path = [base, i];
    const id = s.id ?? `${s.kind}-${i + 1}`;
    if (ids.has(id)) ctx.err([...at, 'id'], `duplicate step id "${id}"`, 'step ids must be unique within the lab');
    ids.set(id, at);
    const step = stepKind(s.kind).resolve(s, ctx, at, { id, kind: s.kind, description: s.description, hint: s.hint });
    if (step) steps.push(step);
  });
  return steps;
}

function resolveAssertions(list: RawItem[], ctx: Resolver, stepIds: Map<string, Path>): AssertionBase[] {
  const out: AssertionBase[] = [];
  const seen = new Set<string>();
  list.forEach((a, i) => {
    const at: Path = ['assertions', i];
    const id = a.id ?? `${a.kind}-${i + 1}`;
    if (seen.has(id) || stepIds.has(id)) {
      ctx.err([...at, 'id'], `duplicate id "${id}"`, 'assertion ids must be unique and differ from step ids');
    }
    seen.add(id);
    const base: AssertionBase = {
      id,
      kind: a.kind,
      expect: a.expect ?? 'pass',
      ...(a.because !== undefined ? { because: a.because } : {}),
      description: a.description,
      hint: a.hint,
      points: a.points ?? 1,
    };
    if (a.because !== undefined) checkBecause(ctx, [...at, 'because'], a.because, base.expect);
    const resolved = checkKind(a.kind).resolve(a, ctx, at, base);
    if (resolved) out.push(resolved);
  });
  return out;
}

/** `because` names the reason an expected failure must fail for: a valid pattern, on an expected failure. */
function checkBecause(ctx: Resolver, at: Path, because: string, expect: 'pass' | 'fail'): void {
  if (expect !== 'fail') ctx.err(at, '"because" says why an expected failure fails: it needs expect: fail');
  try {
    new RegExp(because);
  } catch (e) {
    ctx.err(
      at,
      `"because" is not a valid pattern: ${(e as Error).message}`,
      'a regular expression, e.g. "0/1 replies"',
    );
  }
}

/** The ResolveContext the kinds see. */
class Resolver implements ResolveContext {
  readonly guests: Guest[] = [];
  readonly libvirtNetworks: LibvirtNetwork[] = [];
  readonly devices: Device[] = [];
  readonly started = new Set<string>();
  private readonly uploads = new Map<string, Set<string>>();
  private readonly commandTexts = new Map<string, string[]>();
  private readonly deferred: (() => void)[] = [];
  private ids: string[] = [];

  constructor(
    readonly lab: string,
    private readonly labDir: string,
    private readonly file: string,
    readonly machines: Machine[],
    private readonly underlays: Underlay[],
    private readonly labMachineNames: string[],
    private readonly input: ResolveInput,
    private readonly report: Report,
    private readonly macs: MacRegistry,
  ) {}

  claimMac(path: Path, mac: string, owner: string): void {
    this.macs.claim(path, mac, owner);
  }

  addressOwner(ip: string): string | undefined {
    for (const m of this.machines)
      for (const n of m.nics) if (n.address.split('/')[0] === ip) return `${m.name} ${n.name}`;
    const gw = this.underlays.find((u) => u.gateway === ip);
    return gw ? `the gateway of network "${gw.name}"` : undefined;
  }

  err(path: Path, message: string, hint?: string): void {
    this.report(path, message, hint);
  }

  machine(name: string): Machine | undefined {
    return this.machines.find((m) => m.name === name);
  }

  checkMachine(path: Path, n: string, role?: 'hypervisor'): boolean {
    const names = this.labMachineNames;
    if (!names.includes(n)) {
      const guess = didYouMean(n, names);
      this.err(
        path,
        `unknown machine "${n}"${guess ? `; did you mean "${guess}"?` : ''}`,
        `this lab's machines: ${names.join(', ')}`,
      );
      return false;
    }
    const m = this.machine(n);
    if (m && role && m.role !== role) {
      this.err(
        path,
        `machine "${n}" is a ${m.role}; this step needs a hypervisor`,
        `set "role: hypervisor" for ${n} under machines`,
      );
      return false;
    }
    return true;
  }

  checkGuest(path: Path, g: string): boolean {
    const names = this.guests.map((x) => x.name);
    if (names.includes(g)) return true;
    const guess = didYouMean(g, names);
    const hint = `guests launched by this lab: ${names.join(', ') || '(none)'}`;
    this.err(path, `unknown guest "${g}"${guess ? `; did you mean "${guess}"?` : ''}`, hint);
    return false;
  }

  checkNode(path: Path, n: string): boolean {
    const guests = this.guests.map((x) => x.name);
    if (guests.includes(n) || this.labMachineNames.includes(n)) return true;
    const guess = didYouMean(n, [...this.labMachineNames, ...guests]);
    const hint = `machines: ${this.labMachineNames.join(', ')}; guests: ${guests.join(', ') || '(none)'}`;
    this.err(path, `unknown machine or guest "${n}"${guess ? `; did you mean "${guess}"?` : ''}`, hint);
    return false;
  }

  checkNic(path: Path, machine: string, nic: string): boolean {
    const m = this.machine(machine);
    if (!m || m.nics.some((n) => n.name === nic)) return true;
    this.err(
      path,
      `${machine} has no NIC "${nic}"`,
      `${machine}'s NICs: ${m.nics.map((n) => n.name).join(', ') || '(none)'}`,
    );
    return false;
  }

  /** A machine's interfaces so far: its NICs and the devices earlier steps built on it. */
  private interfaces(machine: string): string[] {
    const m = this.machine(machine);
    return [...(m?.nics.map((n) => n.name) ?? []), ...this.devices.filter((d) => d.on === machine).map((d) => d.name)];
  }

  noteCommand(machine: string, text: string): void {
    this.commandTexts.set(machine, [...(this.commandTexts.get(machine) ?? []), text]);
  }

  builtByCommand(machine: string, name: string): boolean {
    const esc = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const word = new RegExp(`(^|[^A-Za-z0-9_.-])${esc}($|[^A-Za-z0-9_.-])`);
    return (this.commandTexts.get(machine) ?? []).some((t) => word.test(t));
  }

  checkInterface(path: Path, machine: string, name: string): boolean {
    if (!this.machine(machine)) return true;
    const known = this.interfaces(machine);
    if (known.includes(name) || this.builtByCommand(machine, name)) return true;
    const guess = didYouMean(name, known);
    const hint = `${machine}'s NICs and devices so far: ${known.join(', ') || '(none)'} (a device can be used after the step that builds it: a device step, or a command step that names it)`;
    this.err(path, `${machine} has no NIC or device "${name}"${guess ? `; did you mean "${guess}"?` : ''}`, hint);
    return false;
  }

  declareDevice(path: Path, d: Device): boolean {
    if (RESERVED_NICS[d.name]) {
      this.err(path, `${d.on}: "${d.name}" is ${RESERVED_NICS[d.name]}`, 'give the device another name');
      return false;
    }
    if (this.interfaces(d.on).includes(d.name)) {
      this.err(
        path,
        `${d.on} already has an interface "${d.name}"`,
        'each NIC and device of a machine needs its own name',
      );
      return false;
    }
    this.devices.push(d);
    return true;
  }

  endpoint(path: Path, v: string): Endpoint | undefined {
    if (parseIp(v) !== undefined) return { type: 'ip', ip: v };
    const v6 = parseIp6(v);
    if (v6 !== undefined) return { type: 'ip', ip: formatIp6(v6) };
    const dev = /^([a-z][a-z0-9-]*):([a-z][a-z0-9._-]*)$/.exec(v);
    if (dev) {
      const [, machine, name] = dev as unknown as [string, string, string];
      if (!this.checkMachine(path, machine) || !this.checkInterface(path, machine, name)) return undefined;
      return { type: 'interface', name: machine, dev: name };
    }
    if (this.labMachineNames.includes(v)) return { type: 'machine', name: v };
    if (this.guests.some((g) => g.name === v)) return { type: 'guest', name: v };
    this.checkNode(path, v);
    return undefined;
  }

  labFile(path: Path, rel: string): string | undefined {
    const abs = normalize(join(this.labDir, rel));
    const stay = 'file references must stay inside the folder of the lab file';
    if (!abs.startsWith(`${this.labDir}/`)) {
      this.err(path, `"${rel}" escapes the lab's folder`, stay);
      return undefined;
    }
    const st = this.input.stat(abs);
    if (!st) {
      this.err(path, `file "${rel}" not found (looked in ${join(dirname(this.file), rel)})`);
      return undefined;
    }
    // a link may point elsewhere inside the lab's folder, never out of it
    const folder = this.input.stat(this.labDir)?.real ?? this.labDir;
    if (!st.real.startsWith(`${folder}/`)) {
      this.err(path, `"${rel}" is a link to ${displayPath(st.real)}, outside the lab's folder`, stay);
      return undefined;
    }
    if (st.type !== 'file') {
      const what = st.type === 'dir' ? 'a folder' : 'not a regular file (a device, socket or FIFO)';
      this.err(path, `"${rel}" is ${what}`, 'name a regular file of the lab');
      return undefined;
    }
    return abs;
  }

  readFile(absPath: string): string | undefined {
    return this.input.readFile(absPath);
  }

  imageRef(ref: string, path: Path): ImageRef | undefined {
    const [n, version] = ref.split('@') as [string, string | undefined];
    const info = findImage(n);
    if (!info) {
      const guess = didYouMean(
        n,
        IMAGES.map((i) => i.name),
      );
      const hint = `known images: ${IMAGES.map((i) => i.name).join(', ')}`;
      this.err(path, `unknown image "${n}"${guess ? `; did you mean "${guess}"?` : ''}`, hint);
      return undefined;
    }
    if (version && !info.versions.includes(version)) {
      this.err(path, `unknown ${n} version "${version}"`, `known versions: ${info.versions.join(', ')}`);
      return undefined;
    }
    return { name: n, version, ref };
  }

  uploaded(machine: string): Set<string> {
    const s = this.uploads.get(machine) ?? new Set<string>();
    this.uploads.set(machine, s);
    return s;
  }

  mac(name: string): string {
    return stableMac(this.lab, name);
  }

  later(fn: () => void): void {
    this.deferred.push(fn);
  }

  assertionIds(): string[] {
    return this.ids;
  }

  finish(assertionIds: string[]): void {
    this.ids = assertionIds;
    for (const fn of this.deferred) fn();
  }
}
