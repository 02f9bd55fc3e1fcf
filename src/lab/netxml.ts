// Reads what virtlab needs from a libvirt network XML: its name, forward mode and lower device.
import { XMLParser } from 'fast-xml-parser';

export interface NetworkXml {
  name: string;
  /** bridge | vepa | private | passthrough | nat | route | open | isolated (no <forward>) */
  forward: string;
  dev?: string;
  bridge?: string;
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
  return { name, forward, dev, bridge };
}
