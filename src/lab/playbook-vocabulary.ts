// What virtlab's playbook subset knows of Ansible's language: the keywords of plays and tasks and every documented
// option of each module it runs (ansible-core 2.14 documentation), each marked as done, ignored (it does not change
// the outcome here: a warning) or unsupported (it would change the outcome: an error that points to real Ansible).

/** How the subset treats a keyword or an option. */
export type Support = 'done' | 'ignored' | 'unsupported';

/** Ansible's boolean forms (yes/no, true/false, on/off, 1/0, y/n, any case); undefined when it is not one. */
export function ansibleBool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (v === 1 || v === 0) return v === 1;
  if (typeof v !== 'string') return undefined;
  const s = v.trim().toLowerCase();
  if (['yes', 'true', 'on', '1', 'y', 't'].includes(s)) return true;
  if (['no', 'false', 'off', '0', 'n', 'f'].includes(s)) return false;
  return undefined;
}

const table = (done: string[], ignored: string[], unsupported: string[]): Record<string, Support> => ({
  ...Object.fromEntries(unsupported.map((k) => [k, 'unsupported' as const])),
  ...Object.fromEntries(ignored.map((k) => [k, 'ignored' as const])),
  ...Object.fromEntries(done.map((k) => [k, 'done' as const])),
});

export const PLAY_KEYS = table(
  // gather_facts: the subset gathers none (a task that uses a fact fails on the undefined variable)
  [
    'name',
    'hosts',
    'tasks',
    'vars',
    'become',
    'sudo',
    'become_user',
    'sudo_user',
    'remote_user',
    'user',
    'gather_facts',
  ],
  [
    'become_method',
    'connection',
    'tags',
    'no_log',
    'any_errors_fatal',
    'max_fail_percentage',
    'serial',
    'order',
    'strategy',
    'throttle',
    'timeout',
    'port',
    'diff',
    'check_mode',
    'collections',
    'module_defaults',
    'debugger',
    'fact_path',
    'force_handlers',
    'gather_subset',
    'gather_timeout',
    'run_once',
    'ignore_unreachable',
  ],
  [
    'roles',
    'handlers',
    'pre_tasks',
    'post_tasks',
    'vars_files',
    'vars_prompt',
    'environment',
    'ignore_errors',
    'become_flags',
    'become_exe',
  ],
);

export const TASK_KEYS = table(
  ['name', 'become', 'sudo', 'become_user', 'sudo_user', 'remote_user', 'when', 'with_items', 'loop', 'vars', 'args'],
  ['tags', 'no_log', 'become_method', 'timeout', 'throttle', 'diff', 'debugger', 'check_mode', 'collections'],
  [
    'register',
    'notify',
    'ignore_errors',
    'ignore_unreachable',
    'changed_when',
    'failed_when',
    'until',
    'retries',
    'delay',
    'delegate_to',
    'delegate_facts',
    'local_action',
    'run_once',
    'environment',
    'loop_control',
    'with_dict',
    'with_fileglob',
    'with_nested',
    'with_together',
    'with_sequence',
    'with_subelements',
    'with_file',
    'with_lines',
    'block',
    'rescue',
    'always',
    'include',
    'include_tasks',
    'import_tasks',
    'include_role',
    'import_role',
    'import_playbook',
    'async',
    'poll',
    'any_errors_fatal',
    'listen',
    'action',
  ],
);

export type ModuleName = 'apt' | 'get_url' | 'copy' | 'file' | 'command' | 'shell' | 'sysctl' | 'debug';

/** Module names as playbooks write them (short, ansible.builtin.*, collections) and older aliases. */
export const MODULE_ALIASES: Record<string, ModuleName> = {
  apt: 'apt',
  'ansible.builtin.apt': 'apt',
  package: 'apt',
  'ansible.builtin.package': 'apt',
  get_url: 'get_url',
  'ansible.builtin.get_url': 'get_url',
  copy: 'copy',
  'ansible.builtin.copy': 'copy',
  file: 'file',
  'ansible.builtin.file': 'file',
  command: 'command',
  'ansible.builtin.command': 'command',
  shell: 'shell',
  'ansible.builtin.shell': 'shell',
  sysctl: 'sysctl',
  'ansible.posix.sysctl': 'sysctl',
  debug: 'debug',
  'ansible.builtin.debug': 'debug',
};

const SELINUX = ['selevel', 'serole', 'setype', 'seuser', 'attributes', 'unsafe_writes'];

/** Every documented option of each module: done, ignored with a warning, or unsupported (an error). */
export const MODULE_OPTIONS: Record<ModuleName, Record<string, Support>> = {
  apt: table(
    ['name', 'pkg', 'package', 'state', 'update_cache', 'update-cache', 'install_recommends', 'use'],
    [
      'cache_valid_time',
      'force_apt_get',
      'lock_timeout',
      'update_cache_retries',
      'update_cache_retry_max_delay',
      'allow_unauthenticated',
      'allow_downgrade',
      'allow_change_held_packages',
      'dpkg_options',
      'policy_rc_d',
      'fail_on_autoremove',
      'autoclean',
    ],
    ['deb', 'upgrade', 'purge', 'autoremove', 'default_release', 'only_upgrade', 'force', 'clean'],
  ),
  get_url: table(
    ['url', 'dest', 'checksum', 'mode', 'owner', 'group', 'force', 'timeout'],
    [
      'validate_certs',
      'use_proxy',
      'http_agent',
      'tmp_dest',
      'backup',
      'decompress',
      'ciphers',
      'use_netrc',
      'use_gssapi',
      ...SELINUX,
    ],
    [
      'headers',
      'url_username',
      'url_password',
      'force_basic_auth',
      'client_cert',
      'client_key',
      'unredirected_headers',
      'sha256sum',
    ],
  ),
  copy: table(
    ['src', 'content', 'dest', 'mode', 'owner', 'group', 'force'],
    ['backup', 'checksum', 'follow', 'local_follow', 'decrypt', ...SELINUX],
    ['remote_src', 'validate', 'directory_mode'],
  ),
  file: table(
    ['path', 'dest', 'name', 'state', 'mode', 'owner', 'group', 'src', 'recurse', 'force'],
    ['follow', 'access_time', 'access_time_format', 'modification_time', 'modification_time_format', ...SELINUX],
    [],
  ),
  command: table(
    ['cmd', 'argv', 'chdir', 'creates', 'removes', 'stdin', 'stdin_add_newline', 'free_form'],
    ['strip_empty_ends', 'warn', 'expand_argument_vars'],
    [],
  ),
  shell: table(
    ['cmd', 'chdir', 'creates', 'removes', 'stdin', 'stdin_add_newline', 'executable', 'free_form'],
    ['warn'],
    [],
  ),
  sysctl: table(['name', 'value', 'state', 'sysctl_set', 'reload', 'ignoreerrors'], ['sysctl_file'], []),
  debug: table(['msg', 'var', 'verbosity'], [], []),
};

/** Values of an option the subset implements only in part: outside them the task needs real Ansible. */
export const OPTION_VALUES: Partial<Record<ModuleName, Record<string, string[]>>> = {
  apt: { state: ['present', 'installed', 'latest', 'absent', 'removed'] },
  file: { state: ['file', 'directory', 'touch', 'absent', 'link'] },
  sysctl: { state: ['present'] },
};

/**
 * Packages of the original (Ubuntu 14.04-era) labs that Debian 12 no longer has, with what replaced them.
 * Installing the old name would fail; the subset installs the successors and says so.
 */
export const PACKAGE_SUCCESSORS: Record<string, string[]> = {
  'libvirt-bin': ['libvirt-daemon-system', 'libvirt-clients'],
  'qemu-kvm': ['qemu-system-x86'],
  'python-libvirt': ['python3-libvirt'],
};
