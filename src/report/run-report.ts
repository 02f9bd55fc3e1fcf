// The report of a run as report.json holds it; junit, TAP, HTML and the matrix are written from it.
import type { AssertionResult, Stage } from './events.ts';

export interface ReportStep {
  stage: Stage;
  id: string;
  title: string;
  status: string;
  durationMs: number;
  detail?: string;
}

export interface RunReport {
  lab: string;
  description: string;
  instance: string;
  runId: string;
  provider: string;
  result: 'pass' | 'fail' | 'error' | 'interrupted';
  exitCode: number;
  startedAt: string;
  durationMs: number;
  stages: Partial<Record<Stage, number>>;
  steps: ReportStep[];
  assertions: AssertionResult[];
  /** kind: namespace, VM (TCG), VM (KVM), host; guests: how a hypervisor's guests are accelerated (KVM or TCG) */
  machines: {
    name: string;
    role: string;
    ram: number;
    vcpu: number;
    kernel?: string;
    distribution?: string;
    libvirt?: string;
    qemu?: string;
    /** exact Debian package versions (libvirt-daemon, qemu-system-x86, iptables, nftables, dnsmasq-base) */
    packages?: Record<string, string>;
    kind?: string;
    guests?: string;
  }[];
  images: { ref: string; source: string }[];
  files: string[];
  error?: string;
  /** course mode: points of the checks that passed, out of all */
  score?: { points: number; max: number };
  /** wall time split into time inside commands, waiting for guests, and virtlab's own time */
  timing?: { commandMs: number; waitMs: number; overheadMs: number };
}
