#!/usr/bin/env bash
# Tests the sealtag Debian package as an admin would use it, on this machine:
# builds the .deb, installs it with apt, wires it into Debian's system Postfix
# (chrooted smtpd, the shipped socket path), starts sealtag as user sealtag the
# way the systemd unit would (there is no systemd here), sends mail with swaks
# over plain SMTP and STARTTLS and finds the X-Sealtag-* headers in the
# delivered Maildir, enforces a reject rule and sees its 550, upgrades with an
# edited conffile, purges, and checks that nothing of the package is left but
# the system user.
#
# The admin commands are README.md's section "Installing the Debian package",
# run as written there: the test fails when that section and the commands it
# runs differ. Everything it changes (/etc/postfix, Postfix's spool and data
# directories, the users it creates) is put back afterwards, also on failure,
# so it can run again at once.
#
#   packaging/test-deb.sh        # as root; `make deb-test`, part of `make test`
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$PWD
export PATH="$PATH:/usr/local/go/bin"
export DEBIAN_FRONTEND=noninteractive

RCPT=sealtagrcpt                  # the local user mail is delivered to
SOCK=/var/spool/postfix/sealtag/sealtag.sock
CONF=/etc/sealtag/sealtag.toml
ENCRYPTED=testdata/messages/pgp-inline-encrypted-7bit.eml
REJECT_REPLY='550 5.7.1 Our help desk cannot read encrypted mail; please resend it unencrypted'

START=$(date +%s)
STATE=""                          # temporary directory: backups, logs, TLS, home
BACKED_UP=no                      # /etc/postfix etc. saved in $STATE
POSTFIX_STARTED=no
MADE_SEALTAG_USER=no
MADE_RCPT_USER=no
SNAPSHOT_BEFORE=""
declare -a EXECUTED=()            # admin commands run, for the README check

# The test's own output and errors, also while a command's go to a file.
exec 3>&1 4>&2
log() { printf 'test-deb: %s\n' "$*" >&3; }
die() {
	printf 'test-deb: FAIL: %s\n' "$*" >&4
	exit 1
}

# ---------------------------------------------------------------------------
# README.md's section "Installing the Debian package": its commands are the
# non-comment lines of its ```sh blocks.
readme_commands() {
	awk '
		/^## / { insec = ($0 == "## Installing the Debian package") ; next }
		insec && /^```sh$/ { code = 1; next }
		insec && /^```$/ { code = 0; next }
		insec && code && !/^#/ && !/^[[:space:]]*$/ { print }
	' "$REPO/README.md"
}

# admin runs one command of that section, exactly as written there.
admin() {
	local cmd=$1
	readme_commands | grep -qxF -- "$cmd" ||
		die "README.md, section \"Installing the Debian package\", lacks the command: $cmd"
	log "# $cmd"
	EXECUTED+=("$cmd")
	eval "$cmd"
}

# wait_for DESCRIPTION SECONDS COMMAND...: poll until COMMAND succeeds.
wait_for() {
	local what=$1 secs=$2
	shift 2
	local end=$((SECONDS + secs))
	until "$@"; do
		((SECONDS < end)) || die "waited ${secs}s for $what"
		sleep 0.2
	done
}

sealtag_pid() { getent passwd sealtag >/dev/null && pgrep -u sealtag -x sealtag || true; }
running() { [ -n "$(sealtag_pid)" ]; }
stopped() { [ -z "$(sealtag_pid)" ]; }
socket_up() { [ -S "$SOCK" ]; }
installed() { dpkg-query -W -f='${Status}' sealtag 2>/dev/null | grep -q 'install ok installed'; }
postfix_runs() { [ -f /etc/postfix/main.cf ] && postfix status >/dev/null 2>&1; }

# What the test must leave as it found it: Postfix's configuration, spool and
# data directories (names, types, modes, owners, sizes), the users and the
# package's paths.
snapshot() {
	find /etc/postfix /var/spool/postfix /var/lib/postfix -printf '%p %y %m %u %g %s\n' 2>/dev/null | sort
	getent passwd sealtag "$RCPT" || true
	getent group sealtag || true
	ls -d /etc/sealtag /run/sealtag /usr/sbin/sealtag /var/spool/postfix/sealtag 2>/dev/null || true
	dpkg-query -W -f='${Status}\n' sealtag 2>/dev/null || true
}

show_logs() {
	[ -n "$STATE" ] || return 0
	for f in "$STATE"/sealtag.log "$STATE"/maillog "$STATE"/swaks.out; do
		[ -s "$f" ] || continue
		echo "----- ${f##*/} (last 40 lines)" >&2
		tail -n 40 "$f" >&2
	done
}

# cleanup stops what the test started and restores what it changed; it runs
# on every exit. Each step goes on when one fails.
cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	if [ "$rc" != 0 ]; then
		show_logs
	fi
	log "cleanup"
	if [ "$POSTFIX_STARTED" = yes ] && postfix_runs; then
		postfix stop >/dev/null 2>&1
		local i
		for i in $(seq 50); do postfix_runs || break; sleep 0.2; done
	fi
	# sealtag daemons this test started (user sealtag, name sealtag).
	local pid
	for pid in $(sealtag_pid); do
		kill "$pid" 2>/dev/null
	done
	for i in $(seq 100); do stopped && break; sleep 0.2; done
	if installed || dpkg-query -W sealtag >/dev/null 2>&1; then
		apt-get purge -y -qq sealtag >/dev/null 2>&1 || dpkg --purge sealtag >/dev/null 2>&1
	fi
	if [ "$BACKED_UP" = yes ]; then
		local d
		for d in /etc/postfix /var/spool/postfix /var/lib/postfix; do
			if [ -e "$STATE/backup$d" ]; then
				rm -rf "$d" && cp -a "$STATE/backup$d" "$d"
			else
				rm -rf "$d"
			fi
		done
	fi
	if [ "$MADE_RCPT_USER" = yes ]; then
		userdel -r "$RCPT" >/dev/null 2>&1
	fi
	if [ "$MADE_SEALTAG_USER" = yes ] && getent passwd sealtag >/dev/null; then
		deluser --system --quiet sealtag >/dev/null 2>&1
		getent group sealtag >/dev/null && delgroup --system --quiet sealtag >/dev/null 2>&1
	fi
	if [ -n "$STATE" ]; then
		rm -rf "$STATE"
	fi
	if [ "$rc" = 0 ] && [ -n "$SNAPSHOT_BEFORE" ]; then
		if ! diff <(printf '%s\n' "$SNAPSHOT_BEFORE") <(snapshot) >&2; then
			printf 'test-deb: FAIL: the machine was not restored (diff above: < before, > after)\n' >&2
			rc=1
		fi
	fi
	if [ "$rc" = 0 ]; then
		log "PASS in $(($(date +%s) - START))s"
	else
		log "FAILED after $(($(date +%s) - START))s"
	fi
	exit "$rc"
}

# ---------------------------------------------------------------------------
[ "$(id -u)" = 0 ] || die "run as root: the test installs a package and starts Debian's Postfix"
if dpkg-query -W -f='${Status}' sealtag 2>/dev/null | grep -qv 'not-installed'; then
	die "the sealtag package is installed; this test installs and purges it (remove it first: apt-get purge sealtag)"
fi
if postfix_runs; then
	die "the system Postfix runs; this test starts and stops it"
fi
if ss -Hltn 'sport = :25' | grep -q .; then
	die "something listens on port 25; the system Postfix of this test needs it"
fi
[ -f "$ENCRYPTED" ] || die "$ENCRYPTED is missing"

# What the test needs from Debian: Postfix without configuration (as the
# issue's CI machine has it), swaks, a C compiler for cgo, dpkg-dev for
# dpkg-shlibdeps, lintian. Services are not started by package scripts.
need=""
for p in postfix swaks libnet-ssleay-perl openssl gcc libc6-dev dpkg-dev lintian man-db procps; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need="$need $p"
done
if [ -n "$need" ]; then
	log "installing from Debian:$need"
	echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
	made_policy=no
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		made_policy=yes
	fi
	apt-get update -qq
	# shellcheck disable=SC2086 # a list of package names
	apt-get install -y -qq --no-install-recommends $need
	[ "$made_policy" = no ] || rm -f /usr/sbin/policy-rc.d
fi

# The man pages document every command and flag of main.go and every key of
# policy/config.go (a new one fails here until it is documented).
undocumented=""
for c in $(sed -n '/^func run(/,/^}/p' main.go | grep -oE 'case "[a-z]+"' | grep -oE '[a-z]+"' | tr -d '"'); do
	grep -qE "^\.B(R)? $c( |$)" packaging/man/sealtag.8 || undocumented="$undocumented command:$c"
done
for f in $(grep -oE 'fs\.(String|Bool|Int|Duration|Var)\((&[a-zA-Z]+, )?"[a-z-]+"' main.go | grep -oE '"[a-z-]+"' | tr -d '"' | sort -u); do
	pattern='\\-'"${f//-/'\\-'}"'([^a-zA-Z\\]|$)' # roff: \-tls\-version
	grep -qE -- "$pattern" packaging/man/sealtag.8 || undocumented="$undocumented flag:-$f"
done
for k in $(grep -oE 'toml:"[a-z_]+"' policy/config.go | cut -d'"' -f2 | sort -u); do
	case $k in
	match) pattern='^\.SS Match keys$' ;; # the table of match.* keys
	*) pattern="^\\.B (match\\.)?$k\$|^\\.SH \\[(policy\\.)?$k\\]\$|^\\.SH \\[\\[policy\\.$k\\]\\]\$" ;;
	esac
	grep -qE "$pattern" packaging/man/sealtag.toml.5 || undocumented="$undocumented key:$k"
done
[ -z "$undocumented" ] || die "not in the man pages (packaging/man/):$undocumented"
log "man pages: every command, flag and configuration key documented"

SNAPSHOT_BEFORE=$(snapshot)
trap cleanup EXIT
trap 'exit 130' INT TERM

STATE=$(mktemp -d /var/tmp/sealtag-deb-test.XXXXXX)
chmod 755 "$STATE" # local delivery (as $RCPT) must traverse it
mkdir -p "$STATE/backup/etc" "$STATE/backup/var/spool" "$STATE/backup/var/lib"
for d in /etc/postfix /var/spool/postfix /var/lib/postfix; do
	if [ -e "$d" ]; then cp -a "$d" "$STATE/backup$d"; fi
done
BACKED_UP=yes
getent passwd sealtag >/dev/null || MADE_SEALTAG_USER=yes

# --- build, check, install -------------------------------------------------
admin "make deb"
deb=$(echo dist/sealtag_*.deb)
[ -f "$deb" ] || die "make deb left no single dist/sealtag_*.deb: $deb"
version=$(cat VERSION)
[ "$deb" = "dist/sealtag_${version}_$(dpkg --print-architecture).deb" ] || die "unexpected package name $deb"
# packaging/copyright names every Go module compiled into the binary.
unlisted=""
for m in $(go version -m dist/build/debian/sealtag/usr/sbin/sealtag | awk '$1 == "dep" { print $2 }'); do
	grep -qE "^Files:.* ${m//./\\.}/\\*( |$)" packaging/copyright || unlisted="$unlisted $m"
done
[ -z "$unlisted" ] || die "packaging/copyright lacks the licence of Go modules in the binary:$unlisted"
log "packaging/copyright covers all $(go version -m dist/build/debian/sealtag/usr/sbin/sealtag | grep -c '^[[:space:]]dep') Go modules in the binary"
log "lintian $deb"
lintian --fail-on error,warning "$deb" 2>/dev/null || die "lintian reports errors or warnings"

admin "apt-get install -y ./dist/sealtag_*.deb"
installed || die "sealtag is not installed"
admin "sealtag version" >"$STATE/version.out"
out=$(cat "$STATE/version.out")
log "  $out"
[ "$out" = "sealtag $version" ] || die "sealtag version: $out, want sealtag $version"
admin "sealtag check"

# What the package made.
[ "$(stat -c '%U:%G %a' /var/spool/postfix/sealtag)" = "sealtag:postfix 2750" ] ||
	die "/var/spool/postfix/sealtag is $(stat -c '%U:%G %a' /var/spool/postfix/sealtag), want sealtag:postfix 2750"
IFS=: read -r _ _ uid _ _ home shell < <(getent passwd sealtag)
((uid < 1000)) || die "user sealtag has uid $uid: not a system user"
[ "$home" = /nonexistent ] || die "user sealtag has home $home, want /nonexistent"
log "user sealtag: uid $uid, home $home, shell $shell"
dpkg-query -W -f='${Conffiles}\n' sealtag | grep -q "^ $CONF " || die "$CONF is not a conffile"
man -w sealtag >/dev/null && man -w 5 sealtag.toml >/dev/null || die "man pages sealtag(8), sealtag.toml(5) not found"
for f in /usr/share/doc/sealtag/examples/*.toml; do
	sealtag check -config "$f" >/dev/null || die "sealtag check $f failed"
done
if command -v systemd-analyze >/dev/null; then
	systemd-analyze verify /lib/systemd/system/sealtag.service || die "systemd-analyze verify sealtag.service"
fi

# --- Debian's system Postfix -------------------------------------------------
if [ ! -e /etc/postfix/main.cf ]; then
	log "no /etc/postfix/main.cf: writing a minimal one"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=mail.sealtag.test" \
		-keyout "$STATE/tls-key.pem" -out "$STATE/tls-cert.pem" 2>/dev/null
	chmod 600 "$STATE/tls-key.pem"
	cat >/etc/postfix/main.cf <<-EOF
		# Minimal main.cf written by sealtag's packaging/test-deb.sh (removed again).
		compatibility_level = 3.6
		myhostname = mail.sealtag.test
		mydestination = \$myhostname, localhost
		inet_interfaces = loopback-only
		inet_protocols = ipv4
		mynetworks = 127.0.0.0/8
		smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
		home_mailbox = Maildir/
		alias_maps =
		alias_database =
		# No syslog here: Postfix logs through its postlog service.
		maillog_file = $STATE/maillog
		smtpd_tls_cert_file = $STATE/tls-cert.pem
		smtpd_tls_key_file = $STATE/tls-key.pem
		smtpd_tls_security_level = may
	EOF
else
	log "/etc/postfix/main.cf exists: using it, with the test's delivery settings on top"
	postconf -e "mydestination = \$myhostname, localhost" "home_mailbox = Maildir/" \
		"inet_interfaces = loopback-only" "maillog_file = $STATE/maillog"
fi
if ! postconf -M postlog/unix-dgram >/dev/null 2>&1 || [ -z "$(postconf -M postlog/unix-dgram)" ]; then
	postconf -M postlog/unix-dgram="postlog unix-dgram n - n - 1 postlogd"
fi
useradd --create-home --home-dir "$STATE/home" --shell /usr/sbin/nologin "$RCPT"
MADE_RCPT_USER=yes
MAILDIR=$STATE/home/Maildir

admin "cat /usr/share/doc/sealtag/postfix-example.cf >> /etc/postfix/main.cf"
admin "postfix check"
[ "$(postconf -h smtpd_milters)" = "unix:sealtag/sealtag.sock" ] || die "smtpd_milters is $(postconf -h smtpd_milters)"
postconf -M smtp/inet | grep -Eq '^smtp +inet +n +- +y ' || die "smtpd is not chrooted: $(postconf -M smtp/inet)"

# --- sealtag as the unit runs it, then Postfix ------------------------------
admin "runuser -u sealtag -- /usr/sbin/sealtag check -config /etc/sealtag/sealtag.toml"
admin "install -d -o sealtag -g sealtag -m 0750 /run/sealtag"
admin "runuser -u sealtag -- /usr/sbin/sealtag serve -config /etc/sealtag/sealtag.toml &" 2>>"$STATE/sealtag.log"
wait_for "sealtag's socket $SOCK" 10 socket_up
pid=$(sealtag_pid)
[ "$(ps -o user= -p "$pid")" = sealtag ] || die "sealtag runs as $(ps -o user= -p "$pid"), want sealtag"
[ "$(stat -c '%U:%G %a' "$SOCK")" = "sealtag:postfix 660" ] ||
	die "$SOCK is $(stat -c '%U:%G %a' "$SOCK"), want sealtag:postfix 660"
log "sealtag runs as user sealtag (pid $pid); socket sealtag:postfix 0660"

POSTFIX_STARTED=yes
admin "postfix start"
port25_open() { bash -c 'exec 4<>/dev/tcp/127.0.0.1/25' 2>/dev/null; }
wait_for "Postfix on 127.0.0.1:25" 20 port25_open

# --- mail through Postfix and sealtag -----------------------------------------
# delivered SUBJECT: the file in the Maildir whose Subject is SUBJECT.
delivered() { grep -lx "Subject: $1" "$MAILDIR"/new/* 2>/dev/null | head -n 1; }
has_mail() { [ -n "$(delivered "$1")" ]; }
# header FILE NAME: the values of header NAME, one a line (unfolded).
header() { awk -v h="$2:" '/^$/{exit} tolower($1)==tolower(h){sub(/^[^:]*: ?/,""); print}' "$1"; }
expect_header() { # FILE NAME REGEX: exactly one NAME header, matching REGEX
	local vals n
	vals=$(header "$1" "$2")
	n=$(printf '%s' "$vals" | grep -c . || true)
	[ "$n" = 1 ] || die "${1##*/}: $n $2 headers, want 1: $vals"
	[[ $vals =~ $3 ]] || die "${1##*/}: $2: $vals, want /$3/"
	log "  $2: $vals"
}
expect_sealtag_headers() { # FILE TLS-REGEX ENCRYPTION-REGEX POLICY-REGEX
	expect_header "$1" X-Sealtag-Encryption "$3"
	expect_header "$1" X-Sealtag-TLS "$2"
	expect_header "$1" X-Sealtag-Relay '^none$'
	expect_header "$1" X-Sealtag-Thread '^new$'
	expect_header "$1" X-Sealtag-Policy "$4"
}
swaks_ok() { # admin's swaks command; it must be accepted
	admin "$1" >"$STATE/swaks.out" 2>&1 || die "swaks failed: $1"
}

swaks_ok "swaks --server 127.0.0.1 --from alice@example.org --to sealtagrcpt@localhost --header 'Subject: plain' --add-header 'X-Sealtag-Policy: accept; rule=forged'"
wait_for "delivery of 'plain'" 30 has_mail plain
f=$(delivered plain)
log "delivered over plain SMTP: $f"
expect_sealtag_headers "$f" '^none$' '^none$' '^accept; rule=default$'

swaks_ok "swaks --server 127.0.0.1 --from alice@example.org --to sealtagrcpt@localhost --header 'Subject: starttls' --tls"
grep -q '^<~ *250 ' "$STATE/swaks.out" || die "swaks --tls: no reply inside TLS"
wait_for "delivery of 'starttls'" 30 has_mail starttls
f=$(delivered starttls)
log "delivered over STARTTLS: $f"
expect_sealtag_headers "$f" '^TLSv1\.[23]; cipher=[^;]+; bits=[0-9]+$' '^none$' '^accept; rule=default$'

swaks_ok "swaks --server 127.0.0.1 --from alice@example.org --to sealtagrcpt@localhost --data testdata/messages/pgp-inline-encrypted-7bit.eml"
wait_for "delivery of the encrypted message" 30 has_mail Contract
f=$(delivered Contract)
log "delivered, rule in monitor mode: $f"
expect_sealtag_headers "$f" '^none$' '^pgp-inline-encrypted; scope=outer' '^reject; rule=refuse-encrypted-mail; mode=monitor$'

# --- enforce the rule: the client sees its 550 --------------------------------
# reject_seen: the encrypted message is refused with the rule's reply.
expect_reject() {
	if admin "swaks --server 127.0.0.1 --from alice@example.org --to sealtagrcpt@localhost --data testdata/messages/pgp-inline-encrypted-7bit.eml" >"$STATE/swaks.out" 2>&1; then
		die "swaks: the encrypted message was accepted, want $REJECT_REPLY"
	fi
	grep -qF "<** $REJECT_REPLY" "$STATE/swaks.out" || die "swaks did not see: $REJECT_REPLY"
	log "  swaks saw: $(grep -F "<** 550" "$STATE/swaks.out")"
}
admin "sed -i '/^name = \"refuse-encrypted-mail\"\$/,/^mode = /s/^mode = \"monitor\"\$/mode = \"enforce\"/' /etc/sealtag/sealtag.toml"
grep -A6 '^name = "refuse-encrypted-mail"$' "$CONF" | grep -qx 'mode = "enforce"' || die "the sed did not enforce the rule"
admin "sealtag check"
reloads() { grep -c 'configuration reloaded' "$STATE/sealtag.log" || true; }
before=$(reloads)
admin 'kill -HUP "$(pgrep -u sealtag -x sealtag)"'
reloaded() { [ "$(reloads)" -gt "$before" ]; }
wait_for "sealtag's reload" 10 reloaded
expect_reject
edited=$(md5sum <"$CONF")

# --- upgrade with the edited conffile -----------------------------------------
admin "dpkg -i --force-confold ./dist/sealtag_*.deb"
[ "$(md5sum <"$CONF")" = "$edited" ] || die "dpkg -i changed the edited $CONF"
admin "apt-get install -y --reinstall -o Dpkg::Options::=--force-confold ./dist/sealtag_*.deb"
[ "$(md5sum <"$CONF")" = "$edited" ] || die "apt-get --reinstall changed the edited $CONF"
leftover=$(ls /etc/sealtag/*.dpkg-* 2>/dev/null || true)
[ -z "$leftover" ] || die "upgrade left $leftover"
[ "$(sealtag_pid)" = "$pid" ] || die "the upgrade stopped the running sealtag (no systemd here: it must keep running)"
log "conffile edit kept; sealtag (pid $pid) kept running through the upgrade"
admin 'kill "$(pgrep -u sealtag -x sealtag)"'
wait_for "sealtag to stop" 40 stopped
admin "runuser -u sealtag -- /usr/sbin/sealtag serve -config /etc/sealtag/sealtag.toml &" 2>>"$STATE/sealtag.log"
wait_for "sealtag's socket after the restart" 10 socket_up
expect_reject

# --- purge -------------------------------------------------------------------
admin "apt-get purge -y sealtag"
wait_for "sealtag to stop after the purge" 10 stopped
if dpkg-query -W sealtag >/dev/null 2>&1; then
	die "dpkg still knows sealtag: $(dpkg-query -W -f='${Status}' sealtag)"
fi
procs=$(pgrep -u sealtag -a || true)
[ -z "$procs" ] || die "processes of user sealtag after the purge: $procs"
left=$({
	find /etc /usr /lib /var/lib /var/spool /var/log /run -xdev -name '*sealtag*' -print
	find /etc /usr /lib /var /run /tmp -xdev -path "$STATE" -prune -o \( -user sealtag -o -group sealtag \) -print
} 2>/dev/null || true)
[ -z "$left" ] || die "files left after the purge: $left"
getent passwd sealtag >/dev/null || die "the purge removed the user sealtag (Debian policy: it stays)"
log "purged: no process, no file of the package; the user sealtag stays"
admin "postfix stop"
wait_for "Postfix to stop" 20 bash -c '! postfix status >/dev/null 2>&1'
POSTFIX_STARTED=no

# --- README check: the section is exactly the commands run -------------------
missing=$(readme_commands | grep -vxF -f <(printf '%s\n' "${EXECUTED[@]}") || true)
[ -z "$missing" ] || die "README.md's install section has commands this test did not run: $missing"
log "README.md's install section: all $(readme_commands | wc -l) commands run as written"
