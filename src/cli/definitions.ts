// Commands that only read definitions: list, validate, plan.
import { readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';
import { EXIT, formatDiagnostic, UsageError } from '../errors.ts';
import { checkOutFile } from '../host/report-dir.ts';
import { labPath, listLabNames, loadLab, packageRoot, projectRoot, validate } from '../lab/load.ts';
import { displayPath } from '../lab/source.ts';
import { labGraph, toDot, toMermaid, toSvg } from '../report/graph.ts';
import { visible } from '../report/visible.ts';
import { buildPlan, type Plan } from '../runner/plan.ts';
import { displayLine } from '../transport/quote.ts';
import type { Options } from './args.ts';
import { checkRunOptions } from './options.ts';

export function commandList(o: Options): number {
  const root = projectRoot();
  const own = listLabNames(root);
  // outside the package, its labs are examples the project can run by name
  const examples = root === packageRoot() ? [] : listLabNames(packageRoot()).filter((n) => !own.includes(n));
  const rows = [...own.map((n) => ({ n, example: false })), ...examples.map((n) => ({ n, example: true }))].map(
    ({ n: name, example }) => {
      let description = '';
      try {
        const file = labPath(name, example ? packageRoot() : root);
        description = String(
          (parse(readFileSync(file, 'utf8')) as { description?: unknown } | null)?.description ?? '',
        );
      } catch {
        description = '(invalid: run virtlab validate)';
      }
      return { name, description: example ? `(example) ${description}` : description, ...(example ? { example } : {}) };
    },
  );
  if (o.json) console.log(JSON.stringify(rows, null, 2));
  else {
    const w = Math.max(...rows.map((r) => r.name.length), 4);
    for (const r of rows) console.log(`${r.name.padEnd(w)}  ${r.description}`);
  }
  return EXIT.ok;
}

export function commandValidate(o: Options): number {
  const { checked, diagnostics: all } = validate(o.args);
  // warnings are said, and do not fail the file: the outcome is the same as Ansible's
  const diagnostics = all.filter((d) => d.severity !== 'warning');
  const warnings = all.filter((d) => d.severity === 'warning');
  if (o.json) {
    console.log(JSON.stringify({ checked: checked.map(displayPath), problems: diagnostics, warnings }, null, 2));
  } else {
    for (const d of all) console.error(formatDiagnostic(d));
    const bad = new Set(diagnostics.map((d) => d.file));
    for (const f of checked) if (!bad.has(displayPath(f))) console.log(`ok  ${displayPath(f)}`);
    if (diagnostics.length)
      console.error(
        `${diagnostics.length} problem${diagnostics.length === 1 ? '' : 's'} in ${bad.size} file${bad.size === 1 ? '' : 's'}`,
      );
  }
  return diagnostics.length ? EXIT.usage : EXIT.ok;
}

export function commandPlan(o: Options): number {
  if (o.args.length !== 1) throw new UsageError('plan needs exactly one lab', 'virtlab plan <lab>');
  const lab = loadLab(o.args[0]!, undefined, o.variant);
  // the same checks as run: plan is run --dry-run
  checkRunOptions(o, lab);
  const plan = buildPlan(lab);
  if (o.json) console.log(JSON.stringify(plan, null, 2));
  else process.stdout.write(formatPlan(plan));
  return EXIT.ok;
}

export function formatPlan(p: Plan): string {
  const lines: string[] = [`lab ${p.lab}: ${p.description}`, '', 'machines:'];
  for (const m of p.machines) {
    lines.push(`  ${m.name} (${m.role}, ${m.ram} MiB, ${m.vcpu} vCPU${m.vm ? ', a VM' : ''})`);
    for (const n of m.nics) lines.push(`    ${n}`);
    for (const d of m.devices) lines.push(`    ${d}`);
  }
  lines.push('networks:');
  for (const n of p.networks)
    lines.push(
      `  ${n.name} ${n.subnet} gateway ${n.gateway}${n.dhcp ? ` dhcp ${n.dhcp}` : ''}${n.macFiltering ? ' mac-filtering' : ''}`,
    );
  for (const n of p.libvirtNetworks)
    lines.push(
      `  libvirt ${n.name} on ${n.on}: forward ${n.forward}${n.dev ? ` dev ${n.dev}` : ''}${n.bridge ? `, host bridge ${n.bridge}` : ''}${n.detail ? ` (${n.detail})` : ''}`,
    );
  lines.push('guests:');
  for (const g of p.guests)
    lines.push(`  ${g.name} on ${g.on}: image ${g.image}, ${g.ram} MiB, network ${g.network}, mac ${g.mac}`);
  for (const s of p.stages) {
    lines.push('', `[${s.stage}]`);
    if (!s.steps.length) lines.push('  (nothing)');
    for (const st of s.steps) {
      lines.push(`  ${st.id}: ${st.title}`);
      for (const c of st.commands) lines.push(`      $ ${displayLine(c)}`);
    }
  }
  return visible(`${lines.join('\n')}\n`);
}

export function commandGraph(o: Options): number {
  if (o.args.length !== 1)
    throw new UsageError(
      'graph needs exactly one lab',
      'virtlab graph <lab> [--format svg|mermaid|dot] [--out <file>]',
    );
  const lab = loadLab(o.args[0]!, undefined, o.variant);
  const g = labGraph(lab);
  const format = o.format ?? 'svg';
  let text: string;
  if (format === 'svg') text = toSvg(g, `${lab.name} topology`);
  else if (format === 'mermaid') text = toMermaid(g);
  else if (format === 'dot') text = toDot(g, lab.name);
  else throw new UsageError(`unknown graph format "${format}"`, 'formats: svg, mermaid, dot');
  const out = o.out ?? (format === 'svg' ? `${lab.name}.svg` : undefined);
  if (out) {
    checkOutFile(out);
    writeFileSync(out, text);
    console.log(`wrote ${out}`);
  } else process.stdout.write(text);
  return EXIT.ok;
}
