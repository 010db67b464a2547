# shellcheck shell=bash
# lib.sh - what testdata/gen/gen.sh and testdata/load/gen.sh share; sourced, not run.
#
# die, ensure_tools, q and gpgq; work_dir for the temporary directory both scripts make their
# keys and blobs in; make_keys for the throwaway S/MIME and OpenPGP keys of Alice and Bob.
# Written for bash with set -euo pipefail, like its callers.

die() { echo "gen.sh: $*" >&2; exit 1; }

# ensure_tools CMD:PACKAGE...: install with apt-get the packages whose command is missing.
ensure_tools() {
	local missing=() pair cmd pkg
	for pair in "$@"; do
		cmd=${pair%%:*} pkg=${pair#*:}
		command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
	done
	((${#missing[@]} == 0)) && return 0
	[ "$(id -u)" = 0 ] || die "missing tools (${missing[*]}); run as root or: apt-get install -y ${missing[*]}"
	echo "gen.sh: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y "${missing[@]}" >&2 || { apt-get update >&2 && apt-get install -y "${missing[@]}" >&2; }
}

# work_dir NAME: make a temporary directory and cd into it. Sets WORK (the directory), GPGH
# (gpg's home in it) and GSMH (gpgsm's); on exit stops their agents and removes WORK.
work_dir() {
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
	GPGH="$WORK/gnupg"
	GSMH="$WORK/gpgsm"
	trap cleanup EXIT
	cd "$WORK" || exit
}
cleanup() {
	gpgconf --homedir "$GPGH" --kill all >/dev/null 2>&1 || true
	gpgconf --homedir "$GSMH" --kill all >/dev/null 2>&1 || true
	rm -rf "$WORK"
}

# q CMD...: run quietly; show the tool's output only when it fails.
q() {
	if ! "$@" >"$WORK/q.log" 2>&1; then
		echo "gen.sh: failed: $*" >&2
		cat "$WORK/q.log" >&2
		exit 1
	fi
}
gpgq() { gpg --homedir "$GPGH" --batch --yes --no-tty --pinentry-mode loopback --trust-model always "$@"; }

# make_keys ORG: in the current directory, a throwaway S/MIME CA (ca.crt, ca.key) and
# certificates from it for Alice (signer) and Bob (recipient) (alice.crt, bob.key, ...),
# with ORG as their organisation; in $GPGH, OpenPGP keys for both: an ed25519 signing
# primary and a cv25519 encryption subkey each.
make_keys() {
	local org=$1 who n d fpr
	q openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
		-subj "/O=$org/CN=$org CA" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
	for who in alice:example.org bob:example.net; do
		n=${who%%:*} d=${who#*:}
		q openssl req -newkey rsa:2048 -nodes -keyout "$n.key" -out "$n.csr" \
			-subj "/O=$org/CN=$n/emailAddress=$n@$d"
		printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=emailProtection\nsubjectAltName=email:%s@%s\n' "$n" "$d" >"$n.ext"
		q openssl x509 -req -in "$n.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$n.crt" \
			-days 3650 -extfile "$n.ext"
	done

	mkdir -m 700 "$GPGH"
	for who in 'Alice Example <alice@example.org>' 'Bob Example <bob@example.net>'; do
		q gpgq --passphrase '' --quick-gen-key "$who" ed25519 sign never
		fpr=$(gpgq --with-colons --list-keys "$who" | awk -F: '/^fpr/{print $10; exit}')
		q gpgq --passphrase '' --quick-add-key "$fpr" cv25519 encr never
	done
}
