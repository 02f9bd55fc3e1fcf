// net-define: `virsh net-define` of a libvirt network XML the lab uploaded earlier.
import * as cmd from '../../hypervisor/commands.ts';
import * as ops from '../../hypervisor/ops.ts';
import type { StepBase } from '../../lab/model.ts';
import { parseNetworkXml } from '../../lab/netxml.ts';
import { MAX_FILE_MIB } from '../../lab/source.ts';
import { defineStep, ref } from '../define.ts';
import { exec, record } from '../session.ts';

export interface NetDefineStep extends StepBase {
  kind: 'net-define';
  on: string;
  /** absolute path of the XML on the control host */
  xml: string;
  rel: string;
  network: string;
}

interface Raw {
  on: string;
  xml: string;
}

export const netDefine = defineStep<NetDefineStep, Raw>({
  kind: 'net-define',
  summary: 'defines a libvirt network from an XML file of the lab (virsh net-define)',
  stage: 'setup',
  schema: {
    required: ['on', 'xml'],
    properties: {
      on: ref('machineName'),
      xml: ref('relPath', 'A libvirt network XML file of the lab (uploaded by an earlier upload step).'),
    },
  },
  resolve(raw, ctx, at, base) {
    const on = raw.on;
    if (!ctx.checkMachine([...at, 'on'], on, 'hypervisor')) return undefined;
    const src = ctx.labFile([...at, 'xml'], raw.xml);
    if (!src) return undefined;
    if (!ctx.uploaded(on).has(raw.xml)) {
      ctx.err(
        [...at, 'xml'],
        `"${raw.xml}" is not uploaded to ${on} by an earlier step`,
        `add it to the files of an upload step to ${on} before step "${base.id}"`,
      );
    }
    const text = ctx.readFile(src);
    if (text === undefined) {
      ctx.err([...at, 'xml'], `${raw.xml}: cannot be read (larger than ${MAX_FILE_MIB} MiB?)`);
      return undefined;
    }
    const parsed = parseNetworkXml(text);
    if ('error' in parsed) {
      ctx.err([...at, 'xml'], `${raw.xml}: ${parsed.error}`);
      return undefined;
    }
    if (ctx.libvirtNetworks.some((n) => n.name === parsed.name && n.on === on)) {
      ctx.err(at, `network "${parsed.name}" is defined twice on ${on}`);
    }
    const { dev, bridge, virtualport, vlan, v6 } = parsed;
    const m = ctx.machine(on);
    const ifs = [...(m?.nics.map((n) => n.name) ?? []), ...ctx.devices.filter((d) => d.on === on).map((d) => d.name)];
    if (dev && m && !ifs.includes(dev) && !ctx.builtByCommand(on, dev)) {
      const hint = `${on}'s NICs and devices so far: ${ifs.join(', ') || '(none)'}`;
      ctx.err(
        [...at, 'xml'],
        `${raw.xml}: network "${parsed.name}" uses device "${dev}", which ${on} does not have`,
        hint,
      );
    }
    // a host bridge must be one a step built (libvirt only attaches guests to it)
    const bridges = ctx.devices.filter((d) => d.on === on && (d.type === 'bridge' || d.type === 'ovs-bridge'));
    if (
      bridge &&
      parsed.forward === 'bridge' &&
      !bridges.some((b) => b.name === bridge) &&
      !ctx.builtByCommand(on, bridge)
    ) {
      const hint = `build it first with a bridge (or ovs-bridge) step on ${on}, or a command step that names it; its bridges so far: ${bridges.map((b) => b.name).join(', ') || '(none)'}`;
      ctx.err(
        [...at, 'xml'],
        `${raw.xml}: network "${parsed.name}" attaches to bridge "${bridge}", which no earlier step built on ${on}`,
        hint,
      );
    }
    ctx.libvirtNetworks.push({
      name: parsed.name,
      on,
      xmlFile: src,
      forward: parsed.forward,
      dev,
      ...(bridge ? { bridge } : {}),
      ...(virtualport ? { virtualport } : {}),
      ...(vlan !== undefined ? { vlan } : {}),
      ...(v6 ? { v6 } : {}),
    });
    return { ...base, kind: 'net-define', on, xml: src, rel: raw.xml, network: parsed.name };
  },
  title: (s) => `define libvirt network "${s.network}" from ${s.rel} on ${s.on}`,
  machine: (s) => s.on,
  commands: (s) => [cmd.netDefine(cmd.labFilePath(s.rel))],
  async execute(step, s) {
    const r = record(s, { kind: 'libvirt-network', name: step.network, owner: step.on });
    await ops.defineNetwork(exec(s, step.on), step.network, cmd.labFilePath(step.rel));
    // the network's UUID is the mark a teardown checks before it removes a network of this name
    const uuid = await ops.networkUuid(exec(s, step.on), step.network);
    s.store.update(() => {
      if (r.kind === 'libvirt-network') r.uuid = uuid;
    });
    return { status: 'changed' };
  },
});
