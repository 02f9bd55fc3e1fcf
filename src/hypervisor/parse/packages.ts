// Installed Debian packages' exact versions: `dpkg-query -W -f='${Package}\t${Version}\n' <package>...` (also the
// packages.tsv a machine image keeps). A package that is not installed has no line, or an empty version.

/** The packages a hypervisor's outcome depends on, whose exact versions a report names. */
export const VERSIONED_PACKAGES = ['libvirt-daemon', 'qemu-system-x86', 'iptables', 'nftables', 'dnsmasq-base'];

/** The dpkg-query command that lists them. */
export function dpkgVersionsArgv(pkgs: string[] = VERSIONED_PACKAGES): string[] {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's placeholders
  return ['dpkg-query', '-W', '-f=${Package}\\t${Version}\\n', ...pkgs];
}

/** "package\tversion" per line, by package (lines without a version are left out). */
export function parsePackages(tsv: string): Record<string, string> {
  return Object.fromEntries(
    tsv
      .split('\n')
      .map((l) => l.split('\t'))
      .filter((f): f is [string, string] => f.length === 2 && !!f[0] && !!f[1]),
  );
}
