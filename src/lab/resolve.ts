// Pure resolution: schema-valid lab data + catalogue -> Lab (defaults, names, MACs, IPs, cross-references).
import { createHash } from 'node:crypto';
import { basename, dirname, extname, join, normalize, isAbsolute } from 'node:path';
import type { Diagnostic } from '../errors.ts';
import type { Catalogue } from './catalogue.ts';
import { findImage, IMAGES } from './images.ts';
import { broadcast, contains, formatIp, isHost, parseCidr, parseIp, type Cidr } from './ipv4.ts';
import type {
  Assertion,
  Endpoint,
  Guest,
  ImageRef,
  Lab,
  LibvirtNetwork,
  Machine,
  Nic,
  Step,
  Underlay,
} from './model.ts';
import { diag, type Path, type Source } from './source.ts';
import { didYouMean } from './suggest.ts';
import { parseNetworkXml } from './netxml.ts';

export interface ResolveInput {
  source: Source;
  catalogue: Catalogue;
  /** folder of playbooks named by machines.yml `provision:` */
  playbookDir: string;
  /** reads a lab file (XML, script); undefined when missing */
  readFile: (absPath: string) => string | undefined;
  exists: (absPath: string) => boolean;
  params?: Record<string, string>;
  variant?: string;
  variants?: string[];
}

/** A MAC that is the same for the same lab and name, in QEMU's 52:54:00 range. */
export function stableMac(lab: string, name: string): string {
  const h = createHash('sha256').update(`${lab}/${name}`).digest();
  return ['52', '54', '00', ...[h[0]!, h[1]!, h[2]!].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

export function resolveLab(input: ResolveInput): { lab?: Lab; diagnostics: Diagnostic[] } {
  const { source } = input;
  const raw = source.data as any;
  const out: Diagnostic[] = [];
  const err = (path: Path, msg: string, hint?: string, key = false) => out.push(diag(source, path, msg, hint, { key }));
  const file = source.file;
  const labDir = dirname(isAbsolute(file) ? file : join(process.cwd(), file));
  const name: string = raw.name ?? basename(file, extname(file));
  if (raw.name !== undefined && raw.name !== basename(file, extname(file))) {
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

  // underlay networks
  const networks: Underlay[] = [];
  const cidrs = new Map<string, Cidr>();
  for (const [n, spec] of Object.entries<any>(raw.networks ?? {})) {
    const c = parseCidr(spec.subnet);
    if ('error' in c) {
      err(['networks', n, 'subnet'], `network "${n}": ${c.error}`);
      continue;
    }
    cidrs.set(n, c);
    const gw = spec.gateway ?? formatIp(c.network + 1);
    if (spec.gateway !== undefined && !isHost(c, parseIp(spec.gateway)!)) {
      err(
        ['networks', n, 'gateway'],
        `network "${n}": gateway ${spec.gateway} is not a host address in ${spec.subnet}`,
      );
    }
    let dhcp: Underlay['dhcp'];
    if (spec.dhcp === true || spec.dhcp === undefined) {
      const size = broadcast(c) - c.network;
      dhcp = { start: formatIp(c.network + Math.floor(size / 2)), end: formatIp(broadcast(c) - 1) };
    } else if (typeof spec.dhcp === 'object') {
      const s = parseIp(spec.dhcp.start)!;
      const e = parseIp(spec.dhcp.end)!;
      if (!isHost(c, s))
        err(
          ['networks', n, 'dhcp', 'start'],
          `network "${n}": DHCP range start ${spec.dhcp.start} is outside ${spec.subnet}`,
        );
      if (!isHost(c, e))
        err(
          ['networks', n, 'dhcp', 'end'],
          `network "${n}": DHCP range end ${spec.dhcp.end} is outside ${spec.subnet}`,
        );
      if (isHost(c, s) && isHost(c, e) && s > e)
        err(
          ['networks', n, 'dhcp'],
          `network "${n}": DHCP range start ${spec.dhcp.start} is after its end ${spec.dhcp.end}`,
        );
      dhcp = { start: spec.dhcp.start, end: spec.dhcp.end };
    }
    networks.push({
      name: n,
      subnet: spec.subnet,
      prefix: c.prefix,
      gateway: gw,
      dhcp,
      macFiltering: spec['mac-filtering'] ?? false,
    });
  }

  // machines and their NICs
  const machines: Machine[] = [];
  const usedIps = new Map<string, Path>();
  for (const net of networks) usedIps.set(net.gateway, ['networks', net.name, 'gateway']);
  const catNames = [...input.catalogue.machines.keys()];
  for (const [mName, spec] of Object.entries<any>(raw.machines ?? {})) {
    const cat = input.catalogue.machines.get(mName);
    if (!cat) {
      const guess = didYouMean(mName, catNames);
      err(
        ['machines', mName],
        `unknown machine "${mName}"${guess ? `; did you mean "${guess}"?` : ''}`,
        `machines.yml defines: ${catNames.join(', ') || '(none)'}`,
        true,
      );
      continue;
    }
    const nics: Nic[] = [];
    Object.entries<any>(spec.nics ?? {}).forEach(([nicName, nic], idx) => {
      const at: Path = ['machines', mName, 'nics', nicName];
      const net = networks.find((x) => x.name === nic.network);
      // keep the NIC even when it is wrong, so later references to it do not cascade into more errors
      const placeholder = () =>
        nics.push({
          name: nicName,
          network: nic.network,
          address: 'dhcp',
          mac: nic.mac ?? stableMac(name, `${mName}/${nicName}`),
        });
      if (!net) {
        placeholder();
        const known = Object.keys(raw.networks ?? {});
        const guess = didYouMean(nic.network, known);
        if (!known.includes(nic.network))
          err(
            [...at, 'network'],
            `unknown network "${nic.network}"${guess ? `; did you mean "${guess}"?` : ''}`,
            `networks defined in this lab: ${known.join(', ') || '(none)'}`,
          );
        return;
      }
      const c = cidrs.get(net.name)!;
      let ip: string | undefined = nic.ip;
      let ipPath: Path = [...at, 'ip'];
      if (ip === undefined && idx === 0 && cat.ipAddr && contains(c, parseIp(cat.ipAddr)!)) {
        ip = cat.ipAddr;
        ipPath = [...cat.path];
      }
      if (ip === 'dhcp') {
        nics.push({
          name: nicName,
          network: net.name,
          address: 'dhcp',
          mac: nic.mac ?? stableMac(name, `${mName}/${nicName}`),
        });
        return;
      }
      if (ip === undefined) ip = allocate(c, net, usedIps);
      const n = parseIp(ip);
      if (n === undefined) {
        placeholder();
        err(ipPath, `"${ip}" is not a valid IPv4 address`);
        return;
      }
      if (!isHost(c, n)) {
        placeholder();
        err(
          ipPath,
          `${mName} ${nicName}: address ${ip} is not a host address in ${net.subnet} (network "${net.name}")`,
        );
        return;
      }
      if (net.dhcp && n >= parseIp(net.dhcp.start)! && n <= parseIp(net.dhcp.end)!) {
        err(
          ipPath,
          `${mName} ${nicName}: address ${ip} lies in the DHCP range of "${net.name}" (${net.dhcp.start}-${net.dhcp.end})`,
          'pick an address outside the range',
        );
      }
      const clash = usedIps.get(ip);
      if (clash) err(ipPath, `${mName} ${nicName}: address ${ip} is already used (${clash.join('.')})`);
      usedIps.set(ip, at);
      nics.push({
        name: nicName,
        network: net.name,
        address: `${ip}/${c.prefix}`,
        mac: nic.mac ?? stableMac(name, `${mName}/${nicName}`),
      });
    });
    let provision: string | undefined;
    if (cat.provision) {
      provision = join(input.playbookDir, cat.provision);
      if (!input.exists(provision)) {
        out.push(
          diag(
            input.catalogue.source,
            [...cat.path, ...(Array.isArray(input.catalogue.source.data) ? [] : []), 'provision'],
            `playbook "${cat.provision}" of machine ${mName} not found in playbooks/`,
          ),
        );
        provision = undefined;
      }
    }
    machines.push({
      name: mName,
      role: spec.role,
      ram: spec.ram ?? cat.ram,
      vcpu: spec.vcpu ?? cat.vcpu,
      nested: cat.nested,
      provision,
      nics,
      ...(cat.provider === 'vm' || cat.provider === 'netns' ? { provider: cat.provider } : {}),
      ...(cat.kernel ? { kernel: cat.kernel } : {}),
    });
  }

  const machine = (n: string) => machines.find((m) => m.name === n);
  const labMachineNames = Object.keys(raw.machines ?? {});
  const checkMachine = (path: Path, n: string, role?: 'hypervisor'): boolean => {
    if (!labMachineNames.includes(n)) {
      const guess = didYouMean(n, labMachineNames);
      err(
        path,
        `unknown machine "${n}"${guess ? `; did you mean "${guess}"?` : ''}`,
        `this lab's machines: ${labMachineNames.join(', ')}`,
      );
      return false;
    }
    const m = machine(n);
    if (m && role && m.role !== role) {
      err(
        path,
        `machine "${n}" is a ${m.role}; this step needs a hypervisor`,
        `set "role: hypervisor" for ${n} under machines`,
      );
      return false;
    }
    return true;
  };
  const labFile = (path: Path, rel: string): string | undefined => {
    const abs = normalize(join(labDir, rel));
    if (!abs.startsWith(labDir + '/')) {
      err(path, `"${rel}" escapes the lab's folder`, 'file references must stay inside the folder of the lab file');
      return undefined;
    }
    if (!input.exists(abs)) {
      err(path, `file "${rel}" not found (looked in ${join(dirname(file), rel)})`);
      return undefined;
    }
    return abs;
  };

  // steps
  const ids = new Map<string, Path>();
  const uploaded = new Map<string, Set<string>>(); // machine -> files (rel) and images (ref)
  const libvirtNetworks: LibvirtNetwork[] = [];
  const started = new Set<string>();
  const guests: Guest[] = [];
  const checkRefs: { at: Path; ids: string[] }[] = [];
  const resolveSteps = (list: any[], base: 'steps' | 'teardown'): Step[] => {
    const steps: Step[] = [];
    list.forEach((s: any, i: number) => {
      const at: Path = [base, i];
      const id: string = s.id ?? `${s.kind}-${i + 1}`;
      if (ids.has(id)) err([...at, 'id'], `duplicate step id "${id}"`, 'step ids must be unique within the lab');
      ids.set(id, at);
      const common = { id, description: s.description, hint: s.hint };
      const on: string | undefined = s.on ?? s.to ?? s.machine;
      if (s.kind === 'command' && guests.some((g) => g.name === s.on)) {
        // a command inside a guest, over its console
        if (s.argv === undefined)
          err([...at, 'argv'], 'a command step on a guest needs "argv" (a script cannot be uploaded over a console)');
        else
          steps.push({
            id,
            description: s.description,
            hint: s.hint,
            kind: 'command',
            on: s.on,
            argv: s.argv,
            guest: true,
          });
        return;
      }
      if (
        on !== undefined &&
        !checkMachine(
          [...at, s.on !== undefined ? 'on' : s.to !== undefined ? 'to' : 'machine'],
          on,
          ['net-define', 'net-start', 'guest'].includes(s.kind) ? 'hypervisor' : undefined,
        )
      )
        return;
      const up = uploaded.get(on!) ?? new Set<string>();
      uploaded.set(on!, up);
      switch (s.kind) {
        case 'upload': {
          const files: { src: string; rel: string }[] = [];
          (s.files ?? []).forEach((rel: string, j: number) => {
            const src = labFile([...at, 'files', j], rel);
            if (src) files.push({ src, rel });
            up.add(rel);
          });
          const images: ImageRef[] = [];
          (s.images ?? []).forEach((ref: string, j: number) => {
            const img = imageRef(ref, [...at, 'images', j]);
            if (img) images.push(img);
            up.add(`image:${ref}`);
          });
          if (!files.length && !images.length) err(at, 'upload step lists no files and no images');
          steps.push({ ...common, kind: 'upload', to: s.to, files, images });
          break;
        }
        case 'net-define': {
          const src = labFile([...at, 'xml'], s.xml);
          if (!src) return;
          if (!up.has(s.xml))
            err(
              [...at, 'xml'],
              `"${s.xml}" is not uploaded to ${on} by an earlier step`,
              `add it to the files of an upload step to ${on} before step "${id}"`,
            );
          const parsed = parseNetworkXml(input.readFile(src) ?? '');
          if ('error' in parsed) {
            err([...at, 'xml'], `${s.xml}: ${parsed.error}`);
            return;
          }
          if (libvirtNetworks.some((n) => n.name === parsed.name && n.on === on))
            err(at, `network "${parsed.name}" is defined twice on ${on}`);
          const dev = parsed.dev;
          if (dev && !machine(on!)?.nics.some((n) => n.name === dev)) {
            err(
              [...at, 'xml'],
              `${s.xml}: network "${parsed.name}" uses device "${dev}", which ${on} does not have`,
              `${on}'s NICs: ${
                machine(on!)
                  ?.nics.map((n) => n.name)
                  .join(', ') || '(none)'
              }`,
            );
          }
          libvirtNetworks.push({ name: parsed.name, on: on!, xmlFile: src, forward: parsed.forward, dev });
          steps.push({ ...common, kind: 'net-define', on: on!, xml: src, rel: s.xml, network: parsed.name });
          break;
        }
        case 'net-start': {
          const known = libvirtNetworks.filter((n) => n.on === on).map((n) => n.name);
          if (!known.includes(s.network)) {
            const guess = didYouMean(s.network, known);
            err(
              [...at, 'network'],
              `network "${s.network}" is not defined on ${on} by an earlier net-define step${guess ? `; did you mean "${guess}"?` : ''}`,
            );
          }
          started.add(`${on}/${s.network}`);
          steps.push({ ...common, kind: 'net-start', on: on!, network: s.network });
          break;
        }
        case 'promisc': {
          const m = machine(on!);
          if (m && !m.nics.some((n) => n.name === s.nic))
            err(
              [...at, 'nic'],
              `${on} has no NIC "${s.nic}"`,
              `${on}'s NICs: ${m.nics.map((n) => n.name).join(', ') || '(none)'}`,
            );
          steps.push({ ...common, kind: 'promisc', on: on!, nic: s.nic, state: s.state ?? 'on' });
          break;
        }
        case 'guest': {
          const img = imageRef(s.image, [...at, 'image']);
          if (img && !up.has(`image:${s.image}`))
            err(
              [...at, 'image'],
              `image "${s.image}" is not uploaded to ${on} by an earlier step`,
              `add it to the images of an upload step to ${on}`,
            );
          if (s.launch === 'qemu' && s.direct === undefined)
            err([...at, 'launch'], 'a guest launched by bare QEMU needs "direct" (the NIC its macvtap sits on)');
          if ([s.network, s.tap, s.direct].filter((x) => x !== undefined).length !== 1) {
            err(
              at,
              'a guest needs exactly one of "network" (a libvirt network), "tap" (a routed tap device) or "direct" (macvtap on a NIC)',
            );
          } else if (s.direct !== undefined) {
            const m = machine(on!);
            if (m && !m.nics.some((n) => n.name === s.direct.dev))
              err(
                [...at, 'direct', 'dev'],
                `${on} has no NIC "${s.direct.dev}"`,
                `${on}'s NICs: ${m.nics.map((n) => n.name).join(', ') || '(none)'}`,
              );
          } else if (s.tap !== undefined) {
            // the lab's own steps route the tap; nothing to check here
          } else if (!libvirtNetworks.some((n) => n.on === on && n.name === s.network)) {
            err([...at, 'network'], `network "${s.network}" is not defined on ${on} by an earlier net-define step`);
          } else if (!started.has(`${on}/${s.network}`)) {
            err([...at, 'network'], `network "${s.network}" is not started on ${on} by an earlier net-start step`);
          }
          if (guests.some((g) => g.name === s.name)) err([...at, 'name'], `duplicate guest name "${s.name}"`);
          if (machine(s.name)) err([...at, 'name'], `guest name "${s.name}" is also a machine name`);
          const guest: Guest = {
            name: s.name,
            on: on!,
            image: img ?? { name: s.image, ref: s.image },
            network: s.network ?? (s.tap ? `tap:${s.tap}` : `direct:${s.direct?.dev}`),
            tap: s.tap,
            leases: s.leases,
            direct: s.direct ? { dev: s.direct.dev, mode: s.direct.mode ?? 'bridge' } : undefined,
            staticIp: s.ip ? { address: s.ip, gateway: s.gateway } : undefined,
            qemu: s.launch === 'qemu' ? true : undefined,
            ram: s.ram ?? 128,
            vcpus: s.vcpus ?? 1,
            mac: (s.mac ?? stableMac(name, s.name)).toLowerCase(),
            wait: s.wait ?? true,
            step: id,
            nics: [],
          };
          guest.nics.push({ network: guest.network, mac: guest.mac, step: id });
          if (s.leases && !checkMachine([...at, 'leases', 'on'], s.leases.on)) return;
          guests.push(guest);
          steps.push({ ...common, kind: 'guest', on: on!, guest });
          break;
        }
        case 'attach-interface': {
          const g = guests.find((x) => x.name === s.guest);
          if (!g) {
            err([...at, 'guest'], `guest "${s.guest}" is not launched by an earlier step`);
            return;
          }
          if (g.on !== on) err([...at, 'on'], `guest "${s.guest}" runs on ${g.on}, not on ${on}`);
          if (!started.has(`${on}/${s.network}`))
            err([...at, 'network'], `network "${s.network}" is not started on ${on} by an earlier net-start step`);
          if (g.nics.some((n) => n.network === s.network))
            err([...at, 'network'], `guest "${s.guest}" already has a NIC on "${s.network}"`);
          const mac = (s.mac ?? stableMac(name, `${s.guest}/${s.network}`)).toLowerCase();
          g.nics.push({ network: s.network, mac, step: id });
          steps.push({ ...common, kind: 'attach-interface', on: on!, guest: s.guest, network: s.network, mac });
          break;
        }
        case 'check':
          steps.push({ ...common, kind: 'check', assertions: s.assertions });
          checkRefs.push({ at, ids: s.assertions });
          break;
        case 'hairpin': {
          const m = machine(on!);
          const nic = m?.nics.find((n) => n.name === s.nic);
          if (m && !nic)
            err(
              [...at, 'nic'],
              `${on} has no NIC "${s.nic}"`,
              `${on}'s NICs: ${m.nics.map((n) => n.name).join(', ') || '(none)'}`,
            );
          else if (nic && nic.network !== s.network)
            err([...at, 'network'], `${on} ${s.nic} is plugged into "${nic.network}", not "${s.network}"`);
          steps.push({
            ...common,
            kind: 'hairpin',
            network: s.network,
            machine: on!,
            nic: s.nic,
            state: s.state ?? 'on',
          });
          break;
        }
        case 'command': {
          if ((s.argv === undefined) === (s.script === undefined)) {
            err(at, 'a command step needs exactly one of "argv" or "script"');
            return;
          }
          const script = s.script ? labFile([...at, 'script'], s.script) : undefined;
          steps.push({
            ...common,
            kind: 'command',
            on: on!,
            argv: s.argv,
            script: script ? { src: script, rel: s.script } : undefined,
          });
          break;
        }
      }
    });
    return steps;
  };
  const imageRef = (ref: string, path: Path): ImageRef | undefined => {
    const [n, version] = ref.split('@') as [string, string | undefined];
    const info = findImage(n);
    if (!info) {
      const guess = didYouMean(
        n,
        IMAGES.map((i) => i.name),
      );
      err(
        path,
        `unknown image "${n}"${guess ? `; did you mean "${guess}"?` : ''}`,
        `known images: ${IMAGES.map((i) => i.name).join(', ')}`,
      );
      return undefined;
    }
    if (version && !info.versions.includes(version)) {
      err(path, `unknown ${n} version "${version}"`, `known versions: ${info.versions.join(', ')}`);
      return undefined;
    }
    return { name: n, version, ref };
  };
  const steps = resolveSteps(raw.steps ?? [], 'steps');
  const teardown = resolveSteps(raw.teardown ?? [], 'teardown');

  // assertions
  const assertions: Assertion[] = [];
  const aIds = new Set<string>();
  const guestNames = guests.map((g) => g.name);
  const checkGuest = (path: Path, g: string): boolean => {
    if (guestNames.includes(g)) return true;
    const guess = didYouMean(g, guestNames);
    err(
      path,
      `unknown guest "${g}"${guess ? `; did you mean "${guess}"?` : ''}`,
      `guests launched by this lab: ${guestNames.join(', ') || '(none)'}`,
    );
    return false;
  };
  const checkNode = (path: Path, n: string): boolean => {
    if (guestNames.includes(n) || labMachineNames.includes(n)) return true;
    const guess = didYouMean(n, [...labMachineNames, ...guestNames]);
    err(
      path,
      `unknown machine or guest "${n}"${guess ? `; did you mean "${guess}"?` : ''}`,
      `machines: ${labMachineNames.join(', ')}; guests: ${guestNames.join(', ') || '(none)'}`,
    );
    return false;
  };
  const endpoint = (path: Path, v: string): Endpoint | undefined => {
    if (parseIp(v) !== undefined) return { type: 'ip', ip: v };
    if (labMachineNames.includes(v)) return { type: 'machine', name: v };
    if (guestNames.includes(v)) return { type: 'guest', name: v };
    checkNode(path, v);
    return undefined;
  };
  (raw.assertions ?? []).forEach((a: any, i: number) => {
    const at: Path = ['assertions', i];
    const id: string = a.id ?? `${a.kind}-${i + 1}`;
    if (aIds.has(id) || ids.has(id))
      err([...at, 'id'], `duplicate id "${id}"`, 'assertion ids must be unique and differ from step ids');
    aIds.add(id);
    const common = {
      id,
      expect: (a.expect ?? 'pass') as 'pass' | 'fail',
      description: a.description,
      hint: a.hint,
      points: a.points ?? 1,
    };
    switch (a.kind) {
      case 'lease':
        if (!checkGuest([...at, 'guest'], a.guest)) break;
        if (
          a.network !== undefined &&
          !guests.find((g) => g.name === a.guest)!.nics.some((n) => n.network === a.network)
        ) {
          err([...at, 'network'], `guest "${a.guest}" has no NIC on network "${a.network}"`);
          break;
        }
        assertions.push({ ...common, kind: 'lease', guest: a.guest, network: a.network });
        break;
      case 'mac-match':
        if (checkGuest([...at, 'guest'], a.guest)) assertions.push({ ...common, kind: a.kind, guest: a.guest });
        break;
      case 'seen-source': {
        if (!checkNode([...at, 'from'], a.from) || !checkMachine([...at, 'to'], a.to)) break;
        const source = endpoint([...at, 'source'], a.source);
        if (source) assertions.push({ ...common, kind: 'seen-source', from: a.from, to: a.to, source });
        break;
      }
      case 'ping': {
        if (!checkNode([...at, 'from'], a.from)) break;
        const to = endpoint([...at, 'to'], a.to);
        if (to) assertions.push({ ...common, kind: 'ping', from: a.from, to, count: a.count ?? 1 });
        break;
      }
      case 'arp': {
        if ((a.guest === undefined) === (a.target === undefined)) {
          err(at, 'an arp assertion needs exactly one of "target" or "guest"');
          break;
        }
        const target =
          a.guest !== undefined
            ? checkGuest([...at, 'guest'], a.guest)
              ? { type: 'guest' as const, name: a.guest }
              : undefined
            : endpoint([...at, 'target'], a.target);
        const by: string | undefined = a['answered-by'];
        if (
          checkNode([...at, 'on'], a.on) &&
          target &&
          (by === undefined || checkMachine([...at, 'answered-by'], by))
        ) {
          if (target.type === 'ip')
            err([...at, 'target'], 'an arp target must be a machine or a guest (its MAC must be known)');
          else assertions.push({ ...common, kind: 'arp', on: a.on, target, ...(by ? { answeredBy: by } : {}) });
        }
        break;
      }
      case 'reachability': {
        const cells: { from: string; to: Endpoint; expect: 'pass' | 'fail' }[] = [];
        for (const [from, row] of Object.entries<any>(a.expect)) {
          if (!checkNode([...at, 'expect', from], from)) continue;
          for (const [to, exp] of Object.entries<any>(row)) {
            const t = endpoint([...at, 'expect', from, to], to);
            if (t) cells.push({ from, to: t, expect: exp });
          }
        }
        assertions.push({ ...common, expect: 'pass', kind: 'reachability', cells });
        break;
      }
      case 'guest-ip':
        if (checkGuest([...at, 'guest'], a.guest))
          assertions.push({ ...common, kind: 'guest-ip', guest: a.guest, nic: a.nic ?? 'eth0' });
        break;
      case 'link': {
        if (!checkMachine([...at, 'on'], a.on)) break;
        if ((a.nic === undefined) === (a['guest-tap'] === undefined)) {
          err(at, 'a link assertion needs exactly one of "nic" or "guest-tap"');
          break;
        }
        if (a.promisc === undefined && a.up === undefined && a.ipv4 === undefined) {
          err(at, 'a link assertion needs at least one of "promisc", "up", "ipv4"');
          break;
        }
        if (a.nic !== undefined) {
          const m = machine(a.on);
          if (m && !m.nics.some((n) => n.name === a.nic)) {
            err(
              [...at, 'nic'],
              `${a.on} has no NIC "${a.nic}"`,
              `${a.on}'s NICs: ${m.nics.map((n) => n.name).join(', ') || '(none)'}`,
            );
            break;
          }
        } else if (checkGuest([...at, 'guest-tap'], a['guest-tap'])) {
          const g = guests.find((x) => x.name === a['guest-tap'])!;
          if (g.on !== a.on) {
            err([...at, 'guest-tap'], `guest "${g.name}" runs on ${g.on}, not on ${a.on}`);
            break;
          }
        } else break;
        assertions.push({
          ...common,
          kind: 'link',
          on: a.on,
          nic: a.nic,
          guestTap: a['guest-tap'],
          promisc: a.promisc,
          up: a.up,
          ipv4: a.ipv4,
        });
        break;
      }
    }
  });

  for (const ref of checkRefs) {
    ref.ids.forEach((aid, j) => {
      if (!assertions.some((a) => a.id === aid))
        err(
          [...ref.at, 'assertions', j],
          `no assertion with id "${aid}"`,
          `assertion ids: ${assertions.map((a) => a.id).join(', ')}`,
        );
    });
  }
  if (raw.exercise?.from !== undefined && !steps.some((x) => x.id === raw.exercise.from)) {
    err(
      ['exercise', 'from'],
      `exercise starts at step "${raw.exercise.from}", which this lab does not have`,
      `its steps: ${steps.map((x) => x.id).join(', ')}`,
    );
  }
  if (out.length) return { diagnostics: out };
  return {
    diagnostics: [],
    lab: {
      name,
      file,
      dir: labDir,
      description: raw.description,
      teaches: raw.teaches,
      networks,
      machines,
      libvirtNetworks,
      guests,
      steps,
      assertions,
      teardown,
      params: input.params ?? {},
      variant: input.variant,
      variants: input.variants ?? [],
      exercise: raw.exercise,
    },
  };
}

function allocate(c: Cidr, net: Underlay, used: Map<string, Path>): string {
  const lo = net.dhcp ? parseIp(net.dhcp.start)! : Infinity;
  const hi = net.dhcp ? parseIp(net.dhcp.end)! : -Infinity;
  for (let n = c.network + 10; n < broadcast(c); n++) {
    if (n >= lo && n <= hi) continue;
    if (!used.has(formatIp(n))) return formatIp(n);
  }
  return formatIp(c.network + 2);
}
