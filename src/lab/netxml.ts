// Reads what virtlab needs from a libvirt network XML: its name, forward mode and lower device.
import { XMLParser } from 'fast-xml-parser';
import { formatIp6, parseCidr6, parseIp6, prefixOf6 } from './ipv6.ts';

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
  /** <ip family='ipv6' address=.. prefix='64'>: the network's IPv6 /64 (libvirt's dnsmasq announces it) */
  v6?: { subnet: string; gateway: string };
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
  const ips = (Array.isArray(net.ip) ? net.ip : net.ip ? [net.ip] : []) as Record<string, unknown>[];
  const ip6 = ips.find((i) => i['@family'] === 'ipv6');
  let v6: NetworkXml['v6'];
  if (ip6) {
    const gw = parseIp6(String(ip6['@address'] ?? ''));
    const c = gw !== undefined ? parseCidr6(`${formatIp6(prefixOf6(gw))}/${ip6['@prefix'] ?? ''}`) : undefined;
    if (!c || 'error' in c)
      return {
        error: `network ${name}: <ip family='ipv6'> needs an address in a unique local /64 (prefix='64')${c && 'error' in c ? `: ${c.error}` : ''}`,
      };
    v6 = { subnet: c.text, gateway: formatIp6(gw!) };
  }
  return {
    name,
    forward,
    dev,
    bridge,
    ...(virtualport ? { virtualport } : {}),
    ...(Number.isInteger(vlan) ? { vlan } : {}),
    ...(v6 ? { v6 } : {}),
  };
}
