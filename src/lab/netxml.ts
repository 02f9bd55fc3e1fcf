// Reads what virtlab needs from a libvirt network XML: its name, forward mode and lower device.
import { XMLParser } from 'fast-xml-parser';

export interface NetworkXml {
  name: string;
  /** bridge | vepa | private | passthrough | nat | route | open | isolated (no <forward>) */
  forward: string;
  dev?: string;
  bridge?: string;
  /** <virtualport type='openvswitch'/>: the bridge is an Open vSwitch bridge */
  virtualport?: string;
  /** <vlan><tag id='N'/></vlan> */
  vlan?: number;
}

export function parseNetworkXml(xml: string): NetworkXml | { error: string } {
  let doc: any;
  try {
    doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@' }).parse(xml, true);
  } catch (e) {
    return { error: `not well-formed XML (${(e as Error).message.split('\n')[0]})` };
  }
  const net = doc?.network;
  if (!net || typeof net !== 'object') return { error: 'not a libvirt network definition (no <network> element)' };
  const name = typeof net.name === 'string' ? net.name.trim() : '';
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/.test(name))
    return { error: `network <name> "${name}" is missing or not a safe name` };
  const fwd = net.forward;
  const forward =
    fwd === undefined ? 'isolated' : String((typeof fwd === 'object' ? fwd['@mode'] : undefined) ?? 'nat');
  const iface = typeof fwd === 'object' ? fwd.interface : undefined;
  const dev =
    (Array.isArray(iface) ? iface[0] : iface)?.['@dev'] ?? (typeof fwd === 'object' ? fwd['@dev'] : undefined);
  const bridge = typeof net.bridge === 'object' ? net.bridge['@name'] : undefined;
  const virtualport = typeof net.virtualport === 'object' ? net.virtualport['@type'] : undefined;
  const tag = net.vlan?.tag;
  const vlan = Number((Array.isArray(tag) ? tag[0] : tag)?.['@id']);
  return {
    name,
    forward,
    dev,
    bridge,
    ...(virtualport ? { virtualport } : {}),
    ...(Number.isInteger(vlan) ? { vlan } : {}),
  };
}
