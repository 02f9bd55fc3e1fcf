// virtlab doctor on this host: what it says about nested virtualization and the images, in text and JSON.

import { existsSync, readFileSync } from 'node:fs';
import test from 'ava';
import { virtlab } from '../helpers/host.ts';

const flags = /^flags\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.split(/\s+/) ?? [];
const hwVirt = flags.includes('vmx') || flags.includes('svm');

test('doctor explains how VM machines run here and whether KVM works inside them', (t) => {
  const r = virtlab(['doctor']);
  t.is(r.code, 0, r.out);
  t.regex(r.stdout, /^root: {12}yes$/m);
  if (hwVirt && existsSync('/dev/kvm')) {
    t.regex(r.stdout, /^VM machines: {5}QEMU with KVM/m);
    t.regex(r.stdout, /^nested: {10}.*nested=/m);
  } else {
    t.regex(r.stdout, /^VM machines: {5}QEMU TCG \(software emulation\)/m);
    t.regex(r.stdout, /^nested: {10}with -cpu max, TCG emulates AMD SVM, so KVM works inside hypervisor VMs/m);
    if (existsSync('/dev/kvm')) t.regex(r.stdout, /^\/dev\/kvm: {8}present but not usable for ordinary guests/m);
  }
  t.regex(r.stdout, /^inside each VM: {2}`virtlab up` probes \/dev\/kvm in every hypervisor VM/m);
  // install-deps --test built the bookworm machine image: doctor names its suite, kernels and libvirt (other images
  // built before are listed on the same line)
  t.regex(
    r.stdout,
    /^machine image: {3}.*vm-images\/[0-9a-f]{12} \(bookworm: kernels [^)]*6\.1\.0-\d+-cloud-amd64[^)]*6\.12\.\d+\+deb12-cloud-amd64, libvirt 9\.0\.0-[^)]*\)/m,
  );
});

test('doctor --json: the accelerator, why, and the images with their kernels', (t) => {
  const r = virtlab(['doctor', '--json']);
  t.is(r.code, 0, r.out);
  const d = JSON.parse(r.stdout);
  t.is(d.ok, true);
  t.is(d.vm.accel, hwVirt && existsSync('/dev/kvm') ? 'kvm' : 'tcg');
  t.regex(d.vm.why, /\S/);
  t.deepEqual(d.vm.problems, []);
  t.true(d.vm.images.some((i: any) => i.kernels.length >= 2));
});
