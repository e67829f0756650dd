#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tool-test.sh - the tool as admins expect it, checked on the build host
# (no module needed; make check runs it with the static checks, TAP):
#
#   - exit codes: 0 ok, 1 failure, 2 usage; "kvmio help CMD" and
#     "kvmio CMD --help" exit 0 for every command of the table;
#   - --json of the listing commands that work without the modules parses
#     (jq and python3's json.tool), --json elsewhere is a usage error;
#   - tools/kvmio.8 names every command, renders with man and groff
#     without a warning (lintian's check);
#   - tools/kvmio.bash-completion parses and completes commands and options;
#   - blk-serve as kvmio-blk@.service runs it: --config, socket owner,
#     group and mode, --pidfile, READY=1 and STOPPING=1 on $NOTIFY_SOCKET,
#     SIGTERM exits 0 and removes socket and pid file (no connection: the
#     drain with requests in flight is blk_bridge_test's, in the VM); the
#     units pass systemd-analyze verify;
#   - bind/unbind --persist and restore edit and read bind.conf
#     (KVMIO_CONF_DIR) and fail on a device that does not exist;
#   - Documentation/libvirt-domain.xml validates with libvirt's
#     virt-xml-validate, and a broken copy does not.
# The VM's admin_test.sh does the rest with the modules loaded.

set -uo pipefail

TOP=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d /tmp/kvmio-tool-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
K=$T/kvmio
n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n - tool: $1"; }
notok() { n=$((n + 1)); fail=1; echo "not ok $n - tool: $1"; return 1; }
check() { if [ "$1" -eq 0 ]; then ok "$2"; else notok "$2"; fi; }
say() { sed 's/^/# /' "$@" | head -20; }

echo "TAP version 13"
# virt-xml-validate (libvirt-clients) and jq: deps.sh installs them; here
# too, for a host where only this runs.
miss=
for p in libvirt-clients jq; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" ||
		miss="$miss $p"
done
if [ -n "$miss" ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $miss \
		> "$T/apt.log" 2>&1 || say "$T/apt.log"
fi

make -s -C "$TOP/tools" OUT="$T" > "$T/build.log" 2>&1
check $? "the tool builds" || say "$T/build.log"

# --- exit codes and help ---------------------------------------------------
cmds=$("$K" help | awk '/^  [a-z]/ {print $1}')
r=0
[ "$(echo $cmds | wc -w)" -ge 14 ] || { echo "# commands: $cmds"; r=1; }
for c in $cmds; do
	"$K" help "$c" > "$T/h1" 2>&1 || { echo "# kvmio help $c: exit $?"; r=1; }
	"$K" "$c" --help > "$T/h2" 2>&1 || { echo "# kvmio $c --help: exit $?"; r=1; }
	grep -q "^usage: kvmio .*$c" "$T/h1" || { echo "# kvmio help $c: no usage line"; r=1; }
	cmp -s "$T/h1" "$T/h2" || { echo "# help $c and $c --help differ"; r=1; }
done
check $r "help COMMAND and COMMAND --help exit 0 for all $(echo $cmds | wc -w) commands"

codes() { # expected exit, arguments...
	local want=$1
	shift
	"$K" "$@" > /dev/null 2>&1
	local got=$?
	[ "$got" -eq "$want" ] || { echo "# kvmio $*: exit $got, not $want"; return 1; }
}
r=0
codes 0 help || r=1
codes 0 --help || r=1
codes 0 version || r=1
codes 0 status || r=1
codes 2 || r=1
codes 2 frobnicate || r=1
codes 2 --frobnicate status || r=1
codes 2 help frobnicate || r=1
codes 2 status extra || r=1
codes 2 context || r=1
codes 2 context not-a-uuid || r=1
codes 2 remove not-a-uuid || r=1
codes 2 sched show || r=1
codes 2 sched set 5b2c1f6e-7a41-4e0b-9d1c-00000000a001 weight=x || r=1
codes 2 --json bind 0000:00:00.0 || r=1
codes 2 blk-serve --socket /x || r=1
codes 1 context 5b2c1f6e-7a41-4e0b-9d1c-00000000a001 || r=1
codes 1 bind 0000:ff:1f.7 || r=1
codes 1 unbind 0000:ff:1f.7 || r=1
check $r "exit codes: 0 ok, 1 failure, 2 usage"

# --- --json -------------------------------------------------------------
r=0
for a in "--json status" "status --json" "--json devices" "--json contexts" "--json version"; do
	"$K" $a > "$T/j" 2> "$T/e" || { echo "# kvmio $a: exit $?"; say "$T/e"; r=1; }
	jq -e . "$T/j" > /dev/null 2>&1 || { echo "# kvmio $a: jq refuses it"; say "$T/j"; r=1; }
	python3 -m json.tool "$T/j" > /dev/null 2>&1 || { echo "# kvmio $a: json.tool refuses it"; r=1; }
done
"$K" --json status | jq -e '.modules | map(.name) == ["iommu_soft", "irq_remap", "vhost_blk", "kvm_assign"]' > /dev/null ||
	{ echo "# status --json: not the four modules"; r=1; }
ndev=$(ls /sys/bus/pci/devices | wc -l)
"$K" --json devices | jq -e --argjson n "$ndev" '.devices | length == $n and all(.id | test("^[0-9a-f]{4}:[0-9a-f]{4}$"))' > /dev/null ||
	{ echo "# devices --json: not the $ndev PCI devices"; r=1; }
check $r "--json output parses (jq, json.tool) and holds what the tables hold"

# --- man page -----------------------------------------------------------
M=$TOP/tools/kvmio.8
r=0
for c in $cmds; do
	# a .TP entry of COMMANDS
	sed -n '/^\.SH COMMANDS/,/^\.SH OPTIONS/p' "$M" | grep -A1 '^\.TP' |
		grep -Eq "^\.(B|BR|BI) \"?${c//-/\\\\-}( |\"|$)" || { echo "# kvmio.8 does not describe $c"; r=1; }
done
LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$M" \
	> /dev/null 2> "$T/man.err"
[ -s "$T/man.err" ] && { say "$T/man.err"; r=1; }
groff -man -ww -z "$M" 2> "$T/groff.err" || r=1
[ -s "$T/groff.err" ] && { say "$T/groff.err"; r=1; }
man -l "$M" 2>/dev/null | grep -q "EXIT STATUS" || { echo "# man -l renders no EXIT STATUS"; r=1; }
check $r "kvmio.8 describes every command and renders without warnings (man --warnings, groff -ww)"

# --- bash completion ----------------------------------------------------
C=$TOP/tools/kvmio.bash-completion
cat > "$T/comp.sh" <<EOS
# bash-completion's helpers, as little of them as the script uses
_init_completion() { words=("\${COMP_WORDS[@]}"); cword=\$COMP_CWORD
	cur=\${words[cword]}; prev=\${words[cword-1]}; }
_filedir() { COMPREPLY=(FILE); }
compopt() { :; }
source "$C"
comp() { COMP_WORDS=("\$@"); COMP_CWORD=\$((\$# - 1)); COMPREPLY=(); _kvmio
	echo "\${COMPREPLY[*]}"; }
[ "\$(comp kvmio st)" = status ] || { echo "# kvmio st: \$(comp kvmio st)"; exit 1; }
[[ " \$(comp kvmio '') " == *" blk-serve "* ]] || exit 1
[ "\$(comp kvmio bind --p)" = --persist ] || exit 1
[ "\$(comp kvmio help sc)" = sched ] || exit 1
[ "\$(comp kvmio sched s)" = "show set" ] || exit 1
[ "\$(comp kvmio sched nic 0000:00:05.0 q)" = "quantum=" ] || exit 1
[ "\$(comp kvmio blk-serve --socket-m)" = "--socket-mode" ] || exit 1
[ "\$(comp kvmio blk-serve --config '')" = FILE ] || exit 1
[ "\$(comp kvmio --json con)" = "contexts context" ] || exit 1
EOS
bash -n "$C" && bash "$T/comp.sh" > "$T/comp.out" 2>&1
check $? "bash completion parses and completes commands, options and knobs" || say "$T/comp.out"

# --- blk-serve as a service ---------------------------------------------
truncate -s 1M "$T/img"
cat > "$T/blk-t.conf" <<EOS
# as /etc/kvmio/blk-NAME.conf
socket = $T/s.sock
backend=$T/img
socket-owner=65534
socket-group=daemon
socket-mode=0660
queues=2
verbose=yes
EOS
python3 - "$K" "$T" > "$T/svc.out" 2>&1 <<'EOS'
import os, signal, socket, subprocess, sys
k, t = sys.argv[1], sys.argv[2]
n = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
n.bind(t + "/notify")
n.settimeout(10)
p = subprocess.Popen([k, "blk-serve", "--config", t + "/blk-t.conf", "--pidfile", t + "/pid"],
                     env=dict(os.environ, NOTIFY_SOCKET=t + "/notify"))
bad = 0
def expect(cond, what):
    global bad
    if not cond:
        print("# " + what)
        bad = 1
try:
    msg = n.recv(256).decode()
    expect(msg == "READY=1\nMAINPID=%d" % p.pid, "notify: %r" % msg)
    st = os.stat(t + "/s.sock")
    expect(oct(st.st_mode & 0o777) == "0o660", "socket mode %o" % st.st_mode)
    expect(st.st_uid == 65534, "socket owner %d" % st.st_uid)
    expect(st.st_gid == 1, "socket group %d (daemon)" % st.st_gid)
    expect(open(t + "/pid").read().strip() == str(p.pid), "pid file")
    p.send_signal(signal.SIGTERM)
    msg = n.recv(256).decode()
    expect(msg == "STOPPING=1", "notify at stop: %r" % msg)
    rc = p.wait(10)
    expect(rc == 0, "exit %d after SIGTERM" % rc)
    expect(not os.path.exists(t + "/s.sock"), "socket left")
    expect(not os.path.exists(t + "/pid"), "pid file left")
except Exception as e:
    expect(False, "%s: %s" % (type(e).__name__, e))
finally:
    if p.poll() is None:
        p.kill()
sys.exit(bad)
EOS
check $? "blk-serve --config: socket owner, group and mode, pid file, READY=1; SIGTERM: STOPPING=1, exit 0, files removed" ||
	say "$T/svc.out"
r=0
printf 'socket=%s\nbackend=%s\nfrobnicate=1\n' "$T/s2.sock" "$T/img" > "$T/bad.conf"
codes 2 blk-serve --config "$T/bad.conf" || r=1
printf 'socket=%s\nbackend=%s\nreadonly=maybe\n' "$T/s2.sock" "$T/img" > "$T/bad.conf"
codes 2 blk-serve --config "$T/bad.conf" || r=1
codes 1 blk-serve --config "$T/none.conf" || r=1
codes 1 blk-serve --socket "$T/s2.sock" --backend "$T/img" --socket-owner no-such-user-kvmio || r=1
codes 1 blk-serve --socket "$T/s2.sock" --backend "$T/img" --socket-mode 0999 || r=1
[ -e "$T/s2.sock" ] && { echo "# socket left after a refused option"; r=1; }
check $r "blk-serve refuses a bad config (2), unknown owner or bad mode (1), leaves no socket"
if command -v systemd-analyze > /dev/null; then
	cp "$TOP/tools/systemd/kvmio-blk@.service" "$T/kvmio-blk@vm1.service"
	cp "$TOP/tools/systemd/kvmio-bind.service" "$T/"
	# The tool and its man page are not installed on this host: those two
	# complaints are expected, anything else fails.
	systemd-analyze verify --man=no "$T/kvmio-blk@vm1.service" "$T/kvmio-bind.service" 2>&1 |
		grep -v "Command /usr/sbin/kvmio is not executable" > "$T/verify.out"
	[ ! -s "$T/verify.out" ]
	check $? "systemd-analyze verify: kvmio-blk@.service (instance vm1), kvmio-bind.service" ||
		say "$T/verify.out"
else
	echo "ok $((n += 1)) - tool: systemd units # SKIP no systemd-analyze"
fi

# --- persistent bindings ------------------------------------------------
export KVMIO_CONF_DIR=$T/etc
mkdir -p "$KVMIO_CONF_DIR"
printf '# test\n0000:ff:1f.6\n0000:ff:1f.7  # comment\n' > "$KVMIO_CONF_DIR/bind.conf"
r=0
codes 1 bind --persist 0000:ff:1f.5 || r=1
grep -q 0000:ff:1f.5 "$KVMIO_CONF_DIR/bind.conf" && { echo "# a failed bind was recorded"; r=1; }
codes 1 restore || r=1
codes 0 unbind --persist 0000:ff:1f.7 || r=1
[ "$(grep -c 0000:ff: "$KVMIO_CONF_DIR/bind.conf")" -eq 1 ] || { echo "# unbind --persist"; r=1; }
grep -q '^# test' "$KVMIO_CONF_DIR/bind.conf" || { echo "# comments lost"; r=1; }
codes 0 unbind --persist 0000:ff:1f.6 || r=1
codes 0 restore || r=1
rm -rf "$KVMIO_CONF_DIR"
codes 0 restore || r=1
codes 2 bind --frob 0000:ff:1f.6 || r=1
unset KVMIO_CONF_DIR
check $r "bind --persist records only what it bound; unbind --persist forgets; restore fails on a missing device"

# --- libvirt ------------------------------------------------------------
X=$TOP/Documentation/libvirt-domain.xml
virt-xml-validate "$X" domain > "$T/xml.out" 2>&1
check $? "virt-xml-validate: Documentation/libvirt-domain.xml is a valid domain" || say "$T/xml.out"
r=0
grep -q "<disk type='vhostuser' device='disk'>" "$X" || r=1
grep -q "<hostdev mode='subsystem' type='mdev' model='vfio-pci'>" "$X" || r=1
grep -q "<access mode='shared'/>" "$X" || r=1
sed "s/type='vhostuser'/type='vhostuzer'/" "$X" > "$T/bad.xml"
virt-xml-validate "$T/bad.xml" domain > /dev/null 2>&1 && { echo "# a broken copy validates"; r=1; }
check $r "the domain has a vhostuser disk, an mdev hostdev, shared memory; a broken copy fails validation"

echo "1..$n"
exit $fail
