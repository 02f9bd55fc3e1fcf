// Resolved labs kept between commands: used only while every file the resolution looked at is unchanged.
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { PACKAGE_ROOT } from '../../src/host/package-root.ts';
import { resolveLabFile } from '../../src/lab/load.ts';
import { pathSignature, resolvedLab } from '../../src/lab/resolved-cache.ts';

/** A project folder of its own: kvm-macvtap, machines.yml and the playbooks, copied. */
function project() {
  const root = mkdtempSync(join(tmpdir(), 'virtlab-labcache-'));
  for (const p of ['labs/kvm-macvtap.yml', 'labs/kvm-macvtap', 'machines.yml', 'playbooks'])
    cpSync(join(PACKAGE_ROOT, p), join(root, p), { recursive: true });
  const cache = join(root, 'cache');
  const lab = join(root, 'labs', 'kvm-macvtap.yml');
  let resolved = 0;
  const load = (key: object = {}, file = lab) =>
    resolvedLab(cache, { file, ...key }, () => {
      resolved++;
      return resolveLabFile(file, root);
    });
  return { root, cache, lab, load, resolutions: () => resolved };
}

test('a lab resolves once; while its files are unchanged the kept one is the same lab', (t) => {
  const p = project();
  const first = p.load();
  t.truthy(first.lab);
  t.is(p.resolutions(), 1);
  t.is(readdirSync(p.cache).length, 1);
  const again = p.load();
  t.is(p.resolutions(), 1, 'not resolved again');
  t.deepEqual(again.lab, first.lab);
  // another key (a variant, parameters, another working folder) is another lab
  p.load({ variant: 'x' });
  t.is(p.resolutions(), 2);
});

test('a changed lab file, XML or playbook, or one that disappeared, is resolved again', (t) => {
  const p = project();
  t.is(p.load().lab!.libvirtNetworks[0]!.name, 'macvtap-net');
  const xml = join(p.root, 'labs', 'kvm-macvtap', 'macvtap.xml');
  const original = readFileSync(xml, 'utf8');
  writeFileSync(xml, original.replace('dev="eth1"', 'dev="eth9"'));
  const wrongDev = p.load();
  t.is(wrongDev.lab, undefined);
  t.regex(wrongDev.diagnostics.map((d) => d.message).join('\n'), /uses device "eth9", which kvm-01 does not have/);
  writeFileSync(xml, original);
  t.truthy(p.load().lab);
  t.is(p.resolutions(), 2, 'the kept lab again once the XML is as it was');
  writeFileSync(p.lab, readFileSync(p.lab, 'utf8').replace(/^description: .*$/m, 'description: changed'));
  t.is(p.load().lab!.description, 'changed');
  t.is(p.resolutions(), 3);
  // the playbook gone: the problem is said (and a lab with problems is never kept)
  const book = join(p.root, 'playbooks', 'provision.yml');
  const text = readFileSync(book, 'utf8');
  rmSync(book);
  const broken = p.load();
  t.is(broken.lab, undefined);
  t.regex(broken.diagnostics.map((d) => d.message).join('\n'), /playbook "provision.yml" .*not found/);
  t.is(p.load().lab, undefined);
  t.is(p.resolutions(), 5, 'resolved each time while it has problems');
  writeFileSync(book, text);
  t.truthy(p.load().lab);
});

test('a file that appears where the resolution looked and found nothing makes it resolve again', (t) => {
  const p = project();
  // a lab outside labs/ takes the machines.yml beside it when there is one, else the project's
  const other = join(p.root, 'elsewhere');
  mkdirSync(other);
  cpSync(join(p.root, 'labs', 'kvm-macvtap'), join(other, 'kvm-macvtap'), { recursive: true });
  const lab = join(other, 'kvm-macvtap.yml');
  cpSync(p.lab, lab);
  t.is(p.load({}, lab).lab!.machines.find((m) => m.name === 'kvm-01')!.ram, 2048);
  const beside = readFileSync(join(p.root, 'machines.yml'), 'utf8').replace(/ram: "2048"/, 'ram: "3072"');
  t.not(beside, readFileSync(join(p.root, 'machines.yml'), 'utf8'), 'the catalogue names ram: 2048');
  writeFileSync(join(other, 'machines.yml'), beside);
  t.is(p.load({}, lab).lab!.machines.find((m) => m.name === 'kvm-01')!.ram, 3072);
  t.is(p.resolutions(), 2);
});

test("a path's signature: a file by content, a link by where it leads, a missing one as absent", (t) => {
  const d = mkdtempSync(join(tmpdir(), 'virtlab-sig-'));
  const f = join(d, 'a');
  t.is(pathSignature(f), 'absent');
  writeFileSync(f, 'one');
  const one = pathSignature(f);
  writeFileSync(f, 'two');
  t.not(pathSignature(f), one);
  writeFileSync(f, 'one');
  t.is(pathSignature(f), one, 'the same content is the same file');
  writeFileSync(join(d, 'b'), 'one');
  symlinkSync(join(d, 'a'), join(d, 'link'));
  const viaA = pathSignature(join(d, 'link'));
  rmSync(join(d, 'link'));
  symlinkSync(join(d, 'b'), join(d, 'link'));
  t.not(pathSignature(join(d, 'link')), viaA, 'a link that now leads elsewhere');
  t.regex(pathSignature(d), /^dir:/);
});

test('a kept lab in a folder or file others can write is neither read nor written (it names commands run as root)', (t) => {
  const p = project();
  t.truthy(p.load().lab);
  const [name] = readdirSync(p.cache);
  const kept = join(p.cache, name!);
  // a planted entry: the same inputs, another lab
  const entry = JSON.parse(readFileSync(kept, 'utf8'));
  entry.lab.description = 'planted';
  writeFileSync(kept, JSON.stringify(entry));
  t.is(p.load().lab!.description, 'planted', 'an entry of this user alone is used');
  chmodSync(kept, 0o666);
  t.not(p.load().lab!.description, 'planted', 'a file others can write is not read');
  t.is(p.resolutions(), 2);
  chmodSync(kept, 0o600);
  chmodSync(p.cache, 0o777);
  writeFileSync(kept, JSON.stringify(entry));
  t.not(p.load().lab!.description, 'planted', 'nor one in a folder others can write');
  t.is(readFileSync(kept, 'utf8'), JSON.stringify(entry), 'and nothing is written there');
});
