// The slow tier: machine images per Debian suite and a kernel of one's own. kvm-nat-hostonly across a bookworm and
// a trixie image (libvirt 9.0 / 11.3, QEMU 7.2 / 10.0, kernel 6.1 / 6.12), the table, the diff and the host state
// naming what changed; kvm-macvtap on both; kvm-macvtap with kvm-01 booting a kernel from a local .deb, then a bare
// bzImage. The first run builds the trixie image (about 1.5 minutes, 300 MB of packages on a cold cache).

import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { leftovers, virtlab } from '../helpers/host.ts';
import { LONG, removeAfter, tmp } from '../helpers/vm.ts';

const state = (dir: string) => JSON.parse(readFileSync(join(dir, 'host-state.json'), 'utf8'))['kvm-01'];
const kvm01 = (dir: string) =>
  JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')).machines.find((m: any) => m.name === 'kvm-01');

/** The lab as a matrix over targets/suites.yml (bookworm, trixie): it passes and leaves nothing; its output and folder. */
function suiteMatrix(t: ExecutionContext, lab: string): { stdout: string; dir: string } {
  removeAfter(t, 'mx-bookworm', 'mx-trixie');
  const dir = tmp();
  const r = virtlab(['matrix', lab, '--targets', 'targets/suites.yml', '--report-dir', dir], LONG);
  t.is(r.code, 0, r.out);
  t.deepEqual(leftovers('mx-bookworm'), []);
  t.deepEqual(leftovers('mx-trixie'), []);
  return { stdout: r.stdout, dir };
}

/** kvm-macvtap with kvm-01 a VM booting this kernel: it passes and leaves nothing; its output and folder. */
function ownKernelRun(t: ExecutionContext, kernel: string, name: string): { stdout: string; dir: string } {
  removeAfter(t, name);
  const dir = tmp();
  const r = virtlab(
    ['run', 'kvm-macvtap', '--provider', 'vm', '--kernel', kernel, '--name', name, '--report-dir', dir],
    LONG,
  );
  t.is(r.code, 0, r.out);
  t.deepEqual(leftovers(name), []);
  return { stdout: r.stdout, dir };
}

test.serial(
  'kvm-nat-hostonly on a bookworm and a trixie image: both pass; the table, diff and host state name the change',
  (t) => {
    const { stdout, dir } = suiteMatrix(t, 'kvm-nat-hostonly');
    t.regex(
      stdout,
      /bookworm: PASS {2}kvm-01 \(VM \(TCG\), guests KVM\): kernel 6\.1\.0-\d+-cloud-amd64, libvirt 9\.0\.0, QEMU 7\.2\.\d+/,
    );
    t.regex(
      stdout,
      /trixie: PASS {2}kvm-01 \(VM \(TCG\), guests KVM\): kernel 6\.12\.\d+\+deb13-cloud-amd64, libvirt 11\.3\.0, QEMU 10\.0\.\d+/,
    );
    t.regex(kvm01(join(dir, 'trixie')).packages['libvirt-daemon'], /^11\.3\.0-\d+\+deb13u\d+$/);

    const d = virtlab(['diff', join(dir, 'bookworm'), join(dir, 'trixie')]);
    t.regex(d.stdout, /kvm-01 libvirt: 9\.0\.0 -> 11\.3\.0/);
    t.regex(d.stdout, /kvm-01 package nftables: - -> 1\.1\.\d/);
    t.regex(d.stdout, /kvm-01 nftables: read in the second run only \(the first machine lacks the tool\)/);
    t.regex(d.stdout, /domain guest-nat: <type arch='x86_64' machine='pc-i440fx-10\.0'>hvm<\/type>/);

    // what was measured: Debian's libvirt 11.3 keeps writing its NAT rules with iptables (through iptables'
    // nf_tables backend, like 9.0), not with its own nftables backend (a `libvirt_network` table)
    const [a, b] = [state(join(dir, 'bookworm')), state(join(dir, 'trixie'))];
    for (const s of [a, b]) {
      t.true(s.iptables.includes('backend: nf_tables'));
      t.true(s.iptables.some((l: string) => /^nat: -A LIBVIRT_PRT -s 192\.168\.100\.0\/24 .*-j MASQUERADE/.test(l)));
    }
    t.false(
      b.nftables.some((l: string) => l.includes('libvirt_network')),
      b.nftables.join('\n'),
    );
  },
);

test.serial(
  'kvm-macvtap on a bookworm and a trixie image: both pass, the table names both libvirt and QEMU versions',
  (t) => {
    const { stdout, dir } = suiteMatrix(t, 'kvm-macvtap');
    t.regex(stdout, /bookworm: PASS {2}kvm-01 .*libvirt 9\.0\.0, QEMU 7\.2\.\d+/);
    t.regex(stdout, /trixie: PASS {2}kvm-01 .*libvirt 11\.3\.0, QEMU 10\.0\.\d+/);
    const m = JSON.parse(readFileSync(join(dir, 'matrix.json'), 'utf8'));
    t.true(
      m.assertions.every((a: any) => a.results.bookworm === a.results.trixie),
      JSON.stringify(m.assertions),
    );
  },
);

test.serial('a kernel from a local .deb: the image takes it, kvm-01 boots it, the report names it', (t) => {
  // a Debian backports kernel stands in for one's own `make bindeb-pkg` (a linux-image-*.deb of its own name)
  const deb = '/var/lib/virtlab/cache/test-kernels/linux-image-6.12.43+deb12-cloud-amd64_6.12.43-1~bpo12+1_amd64.deb';
  if (!existsSync(deb)) {
    const url = `http://deb.debian.org/debian/pool/main/l/linux-signed-amd64/${deb.split('/').pop()!.replace('~', '%7E')}`;
    const c = spawnSync('sh', [
      '-c',
      `mkdir -p "$(dirname "$1")" && curl -sf -o "$1.part" "$2" && mv "$1.part" "$1"`,
      'sh',
      deb,
      url,
    ]);
    t.is(c.status, 0, `cannot download ${url}`);
  }
  const { stdout, dir } = ownKernelRun(t, deb, 'own-kernel');
  t.regex(stdout, /hypervisor kvm-01 \(VM, kernel 6\.12\.43\+deb12-cloud-amd64,/);
  t.is(kvm01(dir).kernel, '6.12.43+deb12-cloud-amd64');
});

test.serial("a bzImage of one's own: kvm-01 boots it with the image's modules of the same version", (t) => {
  // the image's own 6.12 kernel, copied out as a bare bzImage elsewhere, stands in for one's own build
  const img = spawnSync('bash', ['scripts/build-vm-image.sh'], { encoding: 'utf8' }).stdout.trim().split('\n').pop()!;
  const vmlinuz = readdirSync(img).find((f) => /^vmlinuz-6\.12\./.test(f))!;
  const own = join(tmp(), 'bzImage');
  copyFileSync(join(img, vmlinuz), own);
  const { stdout, dir } = ownKernelRun(t, own, 'own-bz');
  const version = vmlinuz.replace(/^vmlinuz-/, '');
  t.true(stdout.includes(`hypervisor kvm-01 (VM, kernel ${version} from ${own},`), stdout);
  t.is(kvm01(dir).kernel, version);
});
