#!/bin/sh
# Runs inside the new root folder while the machine image is built (scripts/build-vm-image.sh).
set -eu
chmod 755 /usr/local/sbin/virtlab-seed
systemctl enable virtlab-seed.service >/dev/null
# one host key, from the seed at every boot (the ones made by the package are not kept)
rm -f /etc/ssh/ssh_host_*
cat > /etc/ssh/sshd_config.d/virtlab.conf <<'CONF'
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
UseDNS no
MaxSessions 16
CONF
echo 'LABEL=virtlab-root / ext4 rw,errors=remount-ro 0 1' > /etc/fstab
passwd -l root >/dev/null
# libvirt: no default NAT network (labs define their own), daemon started at boot rather than on first use
rm -f /etc/libvirt/qemu/networks/autostart/default.xml /etc/libvirt/qemu/networks/default.xml
systemctl enable libvirtd.service >/dev/null 2>&1 || true
# Open vSwitch's database and daemon run from boot (the ovs-bridge step kind); iperf3 is run by checks, not as a service
systemctl enable openvswitch-switch.service >/dev/null 2>&1 || true
systemctl disable iperf3.service >/dev/null 2>&1 || true
# nothing that wakes up on a timer during a run, no getty on the screen nobody looks at
systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer getty@tty1.service >/dev/null 2>&1 || true
echo virtlab-vm > /etc/hostname
