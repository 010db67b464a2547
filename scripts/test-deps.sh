#!/bin/sh
# Installs what sealtag's integration tests need on Debian 12 (bookworm) and
# caches the Sendmail packages that internal/mtatest unpacks privately.
#
#   scripts/test-deps.sh          # as root, or through sudo
#
# Idempotent and non-interactive; a second run that finds everything in place
# makes no network access and takes well under a second.
#
# - Postfix is installed with debconf's "No configuration": the system
#   instance gets no main.cf and is never started (the tests run private
#   instances under a temporary directory); policy-rc.d keeps the package
#   scripts from starting any service during the install.
# - Sendmail is NOT installed (it would conflict with Postfix): its packages
#   are downloaded with "apt-get download" into $SEALTAG_TEST_DEBS
#   (default /var/cache/sealtag-test/debs), where the Go harness finds them.
# - Also installed: the shared libraries the unpacked sendmail binary links
#   (ordinary library packages, no daemon), swaks and miltertest for
#   hand-driven tests, openssl, gnupg and gpgsm for the test messages,
#   dovecot-sieve (sievec, sieve-test) for contrib/sieve; its daemon is
#   never started.
set -eu

DEBS_DIR=${SEALTAG_TEST_DEBS:-/var/cache/sealtag-test/debs}
SENDMAIL_DEBS="sendmail-bin sendmail-cf sendmail-base m4 libwrap0"
PACKAGES="postfix swaks miltertest openssl gnupg gpgsm dovecot-sieve
	libdb5.3 libldap-2.5-0 libnsl2 libsasl2-2 libssl3
	util-linux mount hostname libc-bin dpkg"

if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		exec sudo env SEALTAG_TEST_DEBS="$DEBS_DIR" sh "$0" "$@"
	fi
	echo "test-deps.sh: must run as root (no sudo found)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
log() { echo "test-deps: $*"; }

tmp=""
check=""
cleanup() { rm -rf ${tmp:+"$tmp"} ${check:+"$check"}; }
trap cleanup EXIT

installed() {
	dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

latest_deb() {
	# the cached file of package $1 (the last in glob order, as the Go
	# harness picks it), or nothing
	last=""
	for f in "$DEBS_DIR/$1"_*.deb; do
		[ -f "$f" ] && last=$f
	done
	echo "$last"
}

have_deb() {
	[ -n "$(latest_deb "$1")" ]
}

missing_pkgs=""
for p in $PACKAGES; do
	installed "$p" || missing_pkgs="$missing_pkgs $p"
done
missing_debs=""
for p in $SENDMAIL_DEBS; do
	have_deb "$p" || missing_debs="$missing_debs $p"
done

updated=no
apt_update() {
	if [ "$updated" = no ]; then
		log "apt-get update"
		apt-get update -qq
		updated=yes
	fi
}

if [ -n "$missing_pkgs" ]; then
	log "installing:$missing_pkgs"
	echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
	# No package script may start a daemon (there is no init system here,
	# and the system Postfix must stay down).
	policy=/usr/sbin/policy-rc.d
	made_policy=no
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		made_policy=yes
	fi
	apt_update
	rc=0
	# shellcheck disable=SC2086 # word splitting of the list is intended
	apt-get install -y -qq --no-install-recommends $missing_pkgs || rc=$?
	if [ "$made_policy" = yes ]; then rm -f "$policy"; fi
	[ "$rc" = 0 ] || exit "$rc"
fi

# The system Postfix must not run: the tests need none, and it would hold
# port 25. Without a main.cf ("No configuration") it cannot start anyway.
if [ -f /etc/postfix/main.cf ] && postfix status >/dev/null 2>&1; then
	log "stopping the system Postfix"
	postfix stop || true
fi

if [ -n "$missing_debs" ]; then
	log "downloading into $DEBS_DIR:$missing_debs"
	mkdir -p "$DEBS_DIR"
	# apt-get download needs package lists; a fresh image has none.
	if ! apt-cache show sendmail-bin >/dev/null 2>&1; then
		apt_update
	fi
	tmp=$(mktemp -d)
	# The _apt sandbox user cannot write a root-owned 0700 temp dir.
	chown _apt "$tmp" 2>/dev/null || true
	# shellcheck disable=SC2086
	if ! (cd "$tmp" && apt-get download -qq $missing_debs); then
		apt_update
		# shellcheck disable=SC2086
		(cd "$tmp" && apt-get download -qq $missing_debs)
	fi
	mv "$tmp"/*.deb "$DEBS_DIR"/
	chmod 644 "$DEBS_DIR"/*.deb
fi

# Check that the unpacked sendmail finds every library (the harness does the
# same and names what is missing).
check=$(mktemp -d)
for p in sendmail-bin libwrap0; do
	dpkg-deb -x "$(latest_deb "$p")" "$check"
done
notfound=$(LD_LIBRARY_PATH="$check/usr/lib/x86_64-linux-gnu" ldd "$check/usr/libexec/sendmail/sendmail" | grep 'not found' || true)
if [ -n "$notfound" ]; then
	echo "test-deps: the unpacked sendmail lacks libraries:" >&2
	echo "$notfound" >&2
	exit 1
fi

log "ok: postfix $(dpkg-query -W -f='${Version}' postfix), sendmail packages in $DEBS_DIR:"
for p in $SENDMAIL_DEBS; do
	echo "  $(latest_deb "$p")"
done
