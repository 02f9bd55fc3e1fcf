// upload: lab files to the machine's working folder, guest images to libvirt's images folder.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HostError } from '../../errors.ts';
import { allDone } from '../../host/parallel.ts';
import * as cmd from '../../hypervisor/commands.ts';
import type { ImageRef, StepBase } from '../../lab/model.ts';
import { hasTemplates, render } from '../../lab/variants.ts';
import { defineStep, ref } from '../define.ts';
import { exec, record, type Session } from '../session.ts';

export interface UploadStep extends StepBase {
  kind: 'upload';
  to: string;
  files: { src: string; rel: string }[];
  images: ImageRef[];
}

interface Raw {
  to: string;
  files?: string[];
  images?: string[];
}

export const upload = defineStep<UploadStep, Raw>({
  kind: 'upload',
  summary: "copies lab files to the machine's working folder and guest images to /var/lib/libvirt/images",
  stage: 'upload',
  schema: {
    required: ['to'],
    properties: {
      to: ref('machineName'),
      files: { type: 'array', items: ref('relPath'), description: "Lab files copied to the machine's working folder." },
      images: {
        type: 'array',
        items: ref('imageRef'),
        description: 'Guest images by logical name, copied to /var/lib/libvirt/images.',
      },
    },
  },
  resolve(raw, ctx, at, base) {
    if (!ctx.checkMachine([...at, 'to'], raw.to)) return undefined;
    const up = ctx.uploaded(raw.to);
    const files: UploadStep['files'] = [];
    (raw.files ?? []).forEach((rel, j) => {
      const src = ctx.labFile([...at, 'files', j], rel);
      if (src) files.push({ src, rel });
      up.add(rel);
    });
    const images: ImageRef[] = [];
    (raw.images ?? []).forEach((r, j) => {
      const img = ctx.imageRef(r, [...at, 'images', j]);
      if (img) images.push(img);
      up.add(`image:${r}`);
    });
    if (!files.length && !images.length) ctx.err(at, 'upload step lists no files and no images');
    if (images.length && ctx.machine(raw.to)?.role !== 'hypervisor') {
      ctx.err(
        [...at, 'images'],
        `${raw.to} is a peer: guest images go to a hypervisor`,
        `upload the images to the machine that runs the guests (role: hypervisor)`,
      );
    }
    return { ...base, kind: 'upload', to: raw.to, files, images };
  },
  title: (s) =>
    `upload ${[...s.files.map((f) => f.rel), ...s.images.map((i) => `image ${i.ref}`)].join(', ')} to ${s.to}`,
  machine: (s) => s.to,
  commands: (s) => [
    ...s.files.map((f) => ['upload', f.rel, cmd.labFilePath(f.rel)]),
    ...s.images.map((i) => ['upload', `image:${i.ref}`, cmd.imagePath(i)]),
  ],
  async execute(step, s) {
    const x = exec(s, step.to);
    const jobs = uploadJobs(step, s);
    // folders virtlab creates on the machine are removed again at teardown (existing hosts keep nothing)
    const dirs = [...new Set(jobs.flatMap((j) => parents(j.remote)))].sort((a, b) => b.length - a.length);
    // which of them are missing: one round trip
    const r = await x.run(['sh', '-c', 'for d; do [ -d "$d" ] || echo "$d"; done', 'sh', ...dirs]);
    const absent = new Set(r.stdout.split('\n'));
    for (const d of dirs.filter((d) => absent.has(d)).reverse()) {
      record(s, { kind: 'undo', what: `folder ${d}`, owner: step.to, op: { type: 'rmdir', path: d } });
    }
    const done = await allDone(
      jobs.map(async (j) => {
        record(s, { kind: 'remote-file', path: j.remote, owner: step.to });
        return x.upload(j.local, j.remote);
      }),
    );
    const copied = done.filter((d) => !d.skipped);
    const mib = (copied.reduce((n, d) => n + d.bytes, 0) / 1048576).toFixed(1);
    const detail = `${copied.length} copied (${mib} MiB), ${done.length - copied.length} already there`;
    return { status: copied.length ? 'changed' : 'ok', detail };
  },
});

function uploadJobs(step: UploadStep, s: Session): { local: string; remote: string }[] {
  const image = (ref: string) => {
    const r = s.images.get(ref);
    if (!r) throw new HostError(`image ${ref} was not prepared for this run`);
    return r;
  };
  return [
    ...step.files.map((f) => ({ local: renderedFile(s, f.src, f.rel), remote: cmd.labFilePath(f.rel) })),
    ...step.images.map((i) => ({ local: image(i.ref).path, remote: cmd.imagePath(i) })),
    // guests with a static address boot the image's kernel directly
    ...step.images
      .filter((i) => s.lab.guests.some((g) => g.on === step.to && g.image.ref === i.ref && g.staticIp))
      .flatMap((i) => {
        const r = image(i.ref);
        if (!r.kernel || !r.initrd)
          throw new HostError(`image ${i.ref} (${r.source}) has no kernel for a guest with a static address`);
        return [
          { local: r.kernel, remote: cmd.kernelPath(i) },
          { local: r.initrd, remote: cmd.initrdPath(i) },
        ];
      }),
  ];
}

/** A lab file with {{ parameters }} is uploaded as rendered for this run's variant. */
function renderedFile(s: Session, src: string, rel: string): string {
  if (!Object.keys(s.lab.params).length) return src;
  const text = readFileSync(src, 'utf8');
  if (!hasTemplates(text)) return src;
  const out = join(s.store.state.runDir, 'rendered', rel);
  mkdirSync(dirname(out), { recursive: true, mode: 0o700 });
  writeFileSync(out, render(text, s.lab.params, src).text, { mode: 0o600 });
  return out;
}

/** /a/b/c/file -> [/a/b/c, /a/b, /a] */
function parents(path: string): string[] {
  const out: string[] = [];
  for (let d = dirname(path); d !== '/' && d !== '.'; d = dirname(d)) out.push(d);
  return out;
}
