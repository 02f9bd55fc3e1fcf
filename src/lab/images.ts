// Guest images known by logical name. The locally built test guest stands in for CirrOS when offline.

export interface ImageInfo {
  name: string;
  description: string;
  /** Released versions that can be downloaded (with checksum verification) when the network allows. */
  versions: string[];
}

export const IMAGES: readonly ImageInfo[] = [
  {
    name: 'cirros',
    description: 'CirrOS, or the virtlab test guest built offline from Debian packages (DHCP on eth0, answers ping)',
    versions: ['0.3.2', '0.3.5', '0.4.0', '0.5.2', '0.5.3', '0.6.0', '0.6.1', '0.6.2', '0.6.3'],
  },
];

export function findImage(name: string): ImageInfo | undefined {
  return IMAGES.find((i) => i.name === name);
}
