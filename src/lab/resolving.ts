// What a kind's resolver may ask while a lab is resolved: the machines, guests and networks known so far, checks
// that report a problem at a position, and the lab's own files. lab/resolve.ts implements it; each kind module uses it.
import type { Device, Endpoint, Guest, ImageRef, LibvirtNetwork, Machine, Path } from './model.ts';

export interface ResolveContext {
  /** the lab's name (stable MACs are derived from it) */
  readonly lab: string;
  readonly machines: readonly Machine[];
  /** guests launched by the steps resolved so far */
  readonly guests: Guest[];
  /** libvirt networks defined by the steps resolved so far */
  readonly libvirtNetworks: LibvirtNetwork[];
  /** devices built by the steps resolved so far */
  readonly devices: Device[];
  /** `<machine>/<network>` of the libvirt networks started so far */
  readonly started: Set<string>;
  /** reports a problem at this position of the lab file */
  err(path: Path, message: string, hint?: string): void;
  machine(name: string): Machine | undefined;
  /** a machine of this lab (with that role, when given); reports the problem and returns false otherwise */
  checkMachine(path: Path, name: string, role?: 'hypervisor'): boolean;
  checkGuest(path: Path, name: string): boolean;
  /** a machine or a guest */
  checkNode(path: Path, name: string): boolean;
  /** a NIC of that machine; reports it (with the machine's NICs as a hint) and returns false otherwise */
  checkNic(path: Path, machine: string, nic: string): boolean;
  /** a NIC of that machine or a device an earlier step built on it */
  checkInterface(path: Path, machine: string, name: string): boolean;
  /** a command step runs this text (its argv, or its script) on a machine: the devices it names become usable */
  noteCommand(machine: string, text: string): void;
  /** whether an earlier command step on the machine names this interface (and so may build it) */
  builtByCommand(machine: string, name: string): boolean;
  /** a new device on a machine: its name must be free there; reports and returns false otherwise */
  declareDevice(path: Path, d: Device): boolean;
  /** a machine, a guest or an IPv4 address */
  endpoint(path: Path, value: string): Endpoint | undefined;
  /** a file of the lab's folder (absolute path), or undefined with the problem reported */
  labFile(path: Path, rel: string): string | undefined;
  /** a lab file's text, rendered for the variant */
  readFile(absPath: string): string | undefined;
  imageRef(ref: string, path: Path): ImageRef | undefined;
  /** what earlier upload steps copied to this machine: lab files (relative paths) and `image:<ref>` */
  uploaded(machine: string): Set<string>;
  /** a stable MAC for this name within the lab */
  mac(name: string): string;
  /** records a MAC a NIC uses; reports it when it is not unicast or another NIC has it */
  claimMac(path: Path, mac: string, owner: string): void;
  /** what already uses this IPv4 address (a machine's NIC, a network's gateway), if anything */
  addressOwner(ip: string): string | undefined;
  /** runs after every step and assertion is resolved (references to assertions) */
  later(fn: () => void): void;
  /** ids of the assertions (valid inside `later`) */
  assertionIds(): string[];
}
