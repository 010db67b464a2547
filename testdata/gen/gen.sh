#!/usr/bin/env bash
# gen.sh - regenerate sealtag's generated test messages in testdata/messages/.
#
# Every crypto blob is real output of openssl (smime/cms), gpg or gpgsm, made with throwaway
# keys in a temporary directory that is deleted at the end. Headers (Date, Message-ID,
# boundaries) are fixed, so a rerun changes only key material, ciphertext and signatures.
# Files that are hand-written (thread-*, relay-*, the text-only neg-*) are static and are
# not touched here; testdata/messages/README.md lists which file is which.
#
# Usage: bash testdata/gen/gen.sh        (from anywhere; needs Debian 12 or similar)
# Tools: gpg, gpgsm, openssl, zip, qpdf, python3 (standard library only); installed with
# apt-get when missing. Nothing else is fetched; the script runs offline once they exist.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$(cd "$HERE/../messages" && pwd)
HELPERS="$HERE/helpers.py"
export LC_ALL=C TZ=UTC

# shellcheck source=testdata/gen/lib.sh
. "$HERE/lib.sh"
ensure_tools gpg:gnupg gpgsm:gpgsm gpg-agent:gpg-agent openssl:openssl zip:zip qpdf:qpdf python3:python3
work_dir sealtag-gen

b64() { base64 -w 76 "$1"; }
py() { python3 "$HELPERS" "$@"; }

# ------------------------------------------------------------------ message helpers
DATE='Wed, 25 Nov 2026 10:10:10 +0000'

# hdr STEM SUBJECT [EXTRA-HEADER-LINE...]: the top header block (without MIME-Version).
# FROM, TO and RP (envelope sender, written as Return-Path) may be overridden per call.
hdr() {
	local stem=$1 subj=$2 h
	shift 2
	printf 'Return-Path: <%s>\n' "${RP:-alice@example.org}"
	printf 'From: %s\n' "${FROM:-Alice Example <alice@example.org>}"
	printf 'To: %s\n' "${TO:-Bob Example <bob@example.net>}"
	printf 'Subject: %s\n' "$subj"
	printf 'Date: %s\n' "$DATE"
	printf 'Message-ID: <%s@sealtag.test>\n' "$stem"
	for h in "$@"; do printf '%s\n' "$h"; done
}

# emit STEM: stdin -> testdata/messages/STEM.eml with LF line ends.
emit() {
	tr -d '\r' >"$OUT/$1.eml"
	echo "$1.eml" >>"$WORK/generated.list"
}
# emit_raw STEM: stdin -> STEM.eml byte for byte (the one CRLF file).
emit_raw() {
	cat >"$OUT/$1.eml"
	echo "$1.eml" >>"$WORK/generated.list"
}

# fixbound FILE NEW: replace the random MIME boundary openssl chose with a fixed one. The
# boundary is outside what a multipart/signed signature covers, so signatures stay valid.
fixbound() {
	local old
	old=$(sed -n 's/.*boundary="\([^"]*\)".*/\1/p' "$1" | head -n1)
	[ -n "$old" ] || die "no boundary in $1"
	sed -i "s/$old/$2/g" "$1"
}

# body_of FILE: a MIME entity's body (everything after the first empty line).
body_of() { tr -d '\r' <"$1" | sed '1,/^$/d'; }

# A forwarded message body (message/rfc822 payload header block) from Carol.
fwd_hdr() {
	printf 'From: Carol Example <carol@example.com>\n'
	printf 'To: Alice Example <alice@example.org>\n'
	printf 'Subject: %s\n' "$2"
	printf 'Date: Tue, 24 Nov 2026 09:00:00 +0000\n'
	printf 'Message-ID: <%s@example.com>\n' "$1"
}

# ------------------------------------------------------------------ plaintexts
cat >inner.mime <<'EOF'
Content-Type: text/plain; charset=us-ascii
Content-Transfer-Encoding: 7bit

Hi Bob,

the signed contract is in the shared folder; the door code is 4711.

Alice
EOF
cat >plain.txt <<'EOF'
Hi Bob,

the signed contract is in the shared folder; the door code is 4711.

Alice
EOF
printf 'Meeting notes, 24 November 2026.\nBudget approved.\n' >notes.txt
touch -d '2026-11-25 10:10:10' notes.txt

# ------------------------------------------------------------------ keys
make_keys "Sealtag Test"

# gpgsm: import the CA and Bob's certificate, trust the CA, no CRLs offline.
mkdir -m 700 "$GSMH"
echo disable-crl-checks >"$GSMH/gpgsm.conf"
q gpgsm --homedir "$GSMH" --batch --import ca.crt
q gpgsm --homedir "$GSMH" --batch --import bob.crt
echo "$(openssl x509 -in ca.crt -noout -fingerprint -sha1 | cut -d= -f2) S relax" >"$GSMH/trustlist.txt"

# ------------------------------------------------------------------ crypto blobs
q openssl smime -encrypt -aes256 -in inner.mime -out smime-enc.txt bob.crt
q openssl cms -encrypt -aes256 -in inner.mime -out cms-enc.txt bob.crt
q openssl cms -encrypt -aes-256-gcm -in inner.mime -out cms-gcm.txt bob.crt
q openssl cms -encrypt -aes256 -crlfeol -in inner.mime -out cms-crlf.txt bob.crt
q openssl cms -encrypt -aes256 -in inner.mime -outform DER -out env.der bob.crt
q openssl cms -encrypt -aes-256-gcm -in inner.mime -outform DER -out gcm.der bob.crt
q openssl cms -encrypt -aes256 -stream -in inner.mime -outform DER -out env-ber.der bob.crt
q gpgsm --homedir "$GSMH" --batch --encrypt -r bob@example.net -o gpgsm.der inner.mime
q openssl smime -sign -in inner.mime -signer alice.crt -inkey alice.key -out smime-sig.txt
q openssl smime -encrypt -aes256 -in smime-sig.txt -out ste.txt bob.crt
q openssl cms -sign -in inner.mime -signer alice.crt -inkey alice.key -out cms-sig.txt
q openssl smime -sign -nodetach -in inner.mime -signer alice.crt -inkey alice.key -out opaque.txt
q openssl smime -sign -nodetach -in inner.mime -signer alice.crt -inkey alice.key -outform DER -out opaque.der
q openssl crl2pkcs7 -nocrl -certfile alice.crt -certfile ca.crt -outform DER -out certs.p7c
fixbound smime-sig.txt '----=_sealtag_smime_signed'
fixbound cms-sig.txt '----=_sealtag_cms_signed'

# The authEnveloped OID 1.2.840.113549.1.9.16.1.23 must open the GCM blob.
openssl asn1parse -inform DER -in gcm.der | sed -n 2p | grep -q id-smime-ct-authEnvelopedData ||
	die "gcm.der is not authEnveloped-data"
od -An -tx1 -N24 gcm.der | tr -d ' \n' | grep -q '060b2a864886f70d0109100117' ||
	die "gcm.der OID bytes differ from 1.2.840.113549.1.9.16.1.23"

R=bob@example.net
q gpgq -ea -r "$R" -o pgp-enc-mime.asc inner.mime
q gpgq -ea -u alice@example.org -s -r "$R" -o pgp-signenc-mime.asc inner.mime
q gpgq --passphrase secret --symmetric --armor -o pgp-sym-mime.asc inner.mime
q gpgq -ea -r "$R" -o pgp-enc.asc plain.txt
q gpgq --passphrase secret --symmetric --armor -o pgp-sym.asc plain.txt
q gpgq -u alice@example.org --clearsign -o pgp-clear.asc plain.txt
q gpgq -u alice@example.org --sign --armor -o pgp-signed-comp.asc plain.txt
q gpgq -u alice@example.org --sign --armor --compress-algo none -o pgp-signed-ops.asc plain.txt
q gpgq --store --armor --compress-algo none -o pgp-store.asc plain.txt
q gpgq -u alice@example.org --detach-sign --armor -o pgp-lone-sig.asc notes.txt
q gpgq --export -o alice-pub.gpg alice@example.org
q gpgq --export --armor -o alice-pub.asc alice@example.org
gpgq --export "$R" | gpgq --enarmor | sed -e 's/PGP ARMORED FILE/PGP MESSAGE/' -e '/^Comment:/d' >pubkey-as-message.asc

# Attachments.
py pdf plain.pdf
py pdf pdf-encrypt-text.pdf --text 'Trailer keys such as /Encrypt 7 0 R and /Filter /Standard mark encrypted PDFs.'
py pdf pdf-encrypt-flate.pdf --flate --text 'Trailer keys such as /Encrypt 7 0 R and /Filter /Standard mark encrypted PDFs.'
q qpdf --allow-weak-crypto --encrypt secret owner 128 --use-aes=n -- plain.pdf pdf-rc4-128.pdf
q qpdf --encrypt secret owner 128 --use-aes=y -- plain.pdf pdf-aes-128.pdf
q qpdf --encrypt secret owner 256 -- plain.pdf pdf-aes-256.pdf
q zip -X -q -P secret zipcrypto.zip notes.txt
q zip -X -q plain.zip notes.txt
py docx plain.docx
py ooxml-encrypted ooxml-encrypted.docx
py doc97 plain.doc
q gpgq -e -r "$R" -o report.pdf.gpg plain.pdf
q gpgq -e -r "$R" -o report.pgp plain.pdf
q gpgq -ea -r "$R" -o notes.asc notes.txt
head -c 3000 /dev/urandom >rpmsg.bin
head -c 3000 /dev/urandom >rpmsg2.bin

# ------------------------------------------------------------------ S/MIME encrypted
{ hdr smime-encrypted-openssl-smime 'Contract'; cat smime-enc.txt; } | emit smime-encrypted-openssl-smime
{ hdr smime-encrypted-openssl-cms 'Contract'; cat cms-enc.txt; } | emit smime-encrypted-openssl-cms
{ hdr smime-encrypted-cms-authenveloped-gcm 'Contract'; cat cms-gcm.txt; } | emit smime-encrypted-cms-authenveloped-gcm
# A sender forging sealtag's own verdict headers (SPEC section 1: they must be removed).
{
	hdr smime-encrypted-forged-sealtag-headers 'Contract' 'X-Sealtag-Encryption: none' \
		'X-Sealtag-Relay: none; field=from' 'X-SEALTAG-Thread: reply' 'x-sealtag-policy: accept rule=forged'
	cat cms-enc.txt
} | emit smime-encrypted-forged-sealtag-headers

# The wire form, CRLF on every line (the only CRLF file). openssl -crlfeol ends only the MIME
# header lines with CRLF and leaves the base64 lines LF, so every line is converted here.
{ hdr smime-encrypted-base64-crlf 'Contract'; cat cms-crlf.txt; } | tr -d '\r' | sed 's/$/\r/' |
	emit_raw smime-encrypted-base64-crlf

# smime_part STEM CT-LINE [EXTRA-LINE] [DER] [WRAP]: a one-part message carrying a DER blob.
smime_part() {
	local stem=$1 ct=$2 extra=${3:-} der=${4:-env.der} wrap=${5:-76}
	hdr "$stem" 'Contract'
	printf 'MIME-Version: 1.0\n%s\n' "$ct"
	[ -n "$extra" ] && printf '%s\n' "$extra"
	printf 'Content-Transfer-Encoding: base64\n\n'
	base64 -w "$wrap" "$der"
	if [ "$wrap" = 0 ]; then echo; fi
}
smime_part smime-encrypted-gpgsm 'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"' \
	'Content-Disposition: attachment; filename="smime.p7m"' gpgsm.der | emit smime-encrypted-gpgsm
smime_part smime-encrypted-param-quoted 'Content-Type: application/pkcs7-mime; smime-type="enveloped-data"; name="smime.p7m"' \
	'Content-Disposition: attachment; filename="smime.p7m"' | emit smime-encrypted-param-quoted
smime_part smime-encrypted-param-upper-value 'Content-Type: application/pkcs7-mime; smime-type=ENVELOPED-DATA; name=smime.p7m' \
	'Content-Disposition: attachment; filename=smime.p7m' | emit smime-encrypted-param-upper-value
smime_part smime-encrypted-param-upper-name 'Content-Type: Application/PKCS7-MIME; SMIME-TYPE=enveloped-data; NAME="smime.p7m"' \
	'Content-Disposition: ATTACHMENT; FILENAME="smime.p7m"' | emit smime-encrypted-param-upper-name
smime_part smime-encrypted-param-rfc2231 "Content-Type: application/pkcs7-mime;
 smime-type*0=envelo;
 smime-type*1=ped-data;
 name*=us-ascii''smime.p7m" \
	"Content-Disposition: attachment; filename*=us-ascii''smime.p7m" | emit smime-encrypted-param-rfc2231
smime_part smime-encrypted-no-smime-type 'Content-Type: application/pkcs7-mime; name="smime.p7m"' \
	'Content-Disposition: attachment; filename="smime.p7m"' | emit smime-encrypted-no-smime-type
smime_part smime-encrypted-x-pkcs7-no-smime-type 'Content-Type: application/x-pkcs7-mime' | emit smime-encrypted-x-pkcs7-no-smime-type
smime_part smime-encrypted-authenveloped-no-smime-type 'Content-Type: application/pkcs7-mime; name="smime.p7m"' \
	'Content-Disposition: attachment; filename="smime.p7m"' gcm.der | emit smime-encrypted-authenveloped-no-smime-type
smime_part smime-encrypted-ber-indefinite 'Content-Type: application/x-pkcs7-mime; name="smime.p7m"' \
	'Content-Disposition: attachment; filename="smime.p7m"' env-ber.der | emit smime-encrypted-ber-indefinite
smime_part smime-encrypted-octet-stream-name "Content-Type: application/octet-stream;
  name=\"smime.p7m\"" 'Content-Disposition: attachment; filename="smime.p7m"' | emit smime-encrypted-octet-stream-name
smime_part smime-encrypted-octet-stream-disposition 'Content-Type: application/octet-stream' \
	'Content-Disposition: attachment; filename="msg.p7m"' | emit smime-encrypted-octet-stream-disposition
smime_part smime-encrypted-base64-oneline 'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"' \
	'Content-Disposition: attachment; filename="smime.p7m"' env.der 0 | emit smime-encrypted-base64-oneline

{
	hdr smime-encrypted-list-footer '[crypto-users] Contract' \
		'List-Id: Crypto users <crypto-users.lists.example.org>' \
		'List-Unsubscribe: <mailto:crypto-users-leave@lists.example.org>' \
		'Sender: crypto-users-bounces@lists.example.org'
	cat <<EOF
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="===============sealtag-list=="

--===============sealtag-list==
$(sed '/^MIME-Version:/d' cms-enc.txt)

--===============sealtag-list==
Content-Type: text/plain; charset="us-ascii"
Content-Transfer-Encoding: 7bit
Content-Disposition: inline

_______________________________________________
crypto-users mailing list
crypto-users@lists.example.org
https://lists.example.org/mailman/listinfo/crypto-users

--===============sealtag-list==--
EOF
} | emit smime-encrypted-list-footer

{
	hdr smime-encrypted-forwarded 'Fwd: Contract'
	cat <<EOF
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="=_sealtag_fwd_smime"

--=_sealtag_fwd_smime
Content-Type: text/plain; charset=us-ascii

Bob, Carol sent me this encrypted message; forwarding it as an attachment.

--=_sealtag_fwd_smime
Content-Type: message/rfc822
Content-Disposition: attachment; filename="Contract.eml"

$(fwd_hdr fwd-smime-inner 'Contract')
$(cat cms-enc.txt)

--=_sealtag_fwd_smime--
EOF
} | emit smime-encrypted-forwarded

{ hdr smime-encrypted-sign-then-encrypt 'Contract'; cat ste.txt; } | emit smime-encrypted-sign-then-encrypt

# ------------------------------------------------------------------ S/MIME signed
{ hdr smime-signed-openssl-smime 'Contract'; cat smime-sig.txt; } | emit smime-signed-openssl-smime
{ hdr smime-signed-openssl-cms 'Contract'; cat cms-sig.txt; } | emit smime-signed-openssl-cms
{
	hdr smime-signed-protocol-unquoted 'Contract'
	sed '0,/^Content-Type: multipart\/signed/s|protocol="application/pkcs7-signature"; micalg="sha-256"|protocol=application/pkcs7-signature; micalg=sha-256|' cms-sig.txt
} | emit smime-signed-protocol-unquoted
{
	hdr smime-signed-protocol-upper 'Contract'
	sed '0,/^Content-Type: multipart\/signed/s|^Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg="sha-256"|Content-Type: Multipart/Signed; PROTOCOL="APPLICATION/PKCS7-SIGNATURE"; MICALG=SHA-256|' cms-sig.txt
} | emit smime-signed-protocol-upper
{ hdr smime-signed-opaque-nodetach 'Contract'; cat opaque.txt; } | emit smime-signed-opaque-nodetach
smime_part smime-signed-opaque-no-smime-type 'Content-Type: application/pkcs7-mime; name="smime.p7m"' \
	'Content-Disposition: attachment; filename="smime.p7m"' opaque.der | emit smime-signed-opaque-no-smime-type
smime_part neg-smime-certs-only 'Content-Type: application/pkcs7-mime; smime-type=certs-only; name="smime.p7c"' \
	'Content-Disposition: attachment; filename="smime.p7c"' certs.p7c | emit neg-smime-certs-only
smime_part neg-smime-certs-only-no-smime-type 'Content-Type: application/pkcs7-mime; name="smime.p7c"' \
	'Content-Disposition: attachment; filename="smime.p7c"' certs.p7c | emit neg-smime-certs-only-no-smime-type

# ------------------------------------------------------------------ PGP/MIME
# pgpmime_body ARMOR BOUNDARY: the two parts of an RFC 3156 multipart/encrypted body.
pgpmime_body() {
	cat <<EOF
This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)
--$2
Content-Type: application/pgp-encrypted
Content-Description: PGP/MIME version identification

Version: 1

--$2
Content-Type: application/octet-stream; name="encrypted.asc"
Content-Description: OpenPGP encrypted message
Content-Disposition: inline; filename="encrypted.asc"

$(cat "$1")

--$2--
EOF
}
# pgpmime_entity ARMOR BOUNDARY [CT-LINE]: a whole multipart/encrypted entity.
pgpmime_entity() {
	printf '%s\n\n' "${3:-Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\";
 boundary=\"$2\"}"
	pgpmime_body "$1" "$2"
}
{ hdr pgp-encrypted-pubkey 'Contract'; echo 'MIME-Version: 1.0'; pgpmime_entity pgp-enc-mime.asc sealtag-pgp-1; } | emit pgp-encrypted-pubkey
{ hdr pgp-encrypted-signed-inside 'Contract'; echo 'MIME-Version: 1.0'; pgpmime_entity pgp-signenc-mime.asc sealtag-pgp-2; } | emit pgp-encrypted-signed-inside
{ hdr pgp-encrypted-symmetric 'Contract'; echo 'MIME-Version: 1.0'; pgpmime_entity pgp-sym-mime.asc sealtag-pgp-3; } | emit pgp-encrypted-symmetric
{
	hdr pgp-encrypted-protocol-unquoted 'Contract'; echo 'MIME-Version: 1.0'
	pgpmime_entity pgp-enc-mime.asc sealtag-pgp-4 'Content-Type: multipart/encrypted; protocol=application/pgp-encrypted; boundary=sealtag-pgp-4'
} | emit pgp-encrypted-protocol-unquoted
{
	hdr pgp-encrypted-protocol-upper 'Contract'; echo 'MIME-Version: 1.0'
	pgpmime_entity pgp-enc-mime.asc sealtag-pgp-5 'Content-Type: Multipart/Encrypted; PROTOCOL="Application/PGP-Encrypted"; BOUNDARY="sealtag-pgp-5"'
} | emit pgp-encrypted-protocol-upper

# Exchange / Outlook rewrites RFC 3156 into multipart/mixed (the "broken Exchange" form).
{
	hdr pgp-encrypted-exchange-mangled 'Contract'
	cat <<EOF
Content-Type: multipart/mixed;
	boundary="_003_sealtag0exchange0mangled_"
MIME-Version: 1.0

--_003_sealtag0exchange0mangled_
Content-Type: text/plain; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable


--_003_sealtag0exchange0mangled_
Content-Type: application/pgp-encrypted; name="PGPMIME version identification"
Content-Description: PGP/MIME version identification
Content-Disposition: attachment; filename="PGPMIME version identification";
	size=12; creation-date="Wed, 25 Nov 2026 10:10:10 GMT";
	modification-date="Wed, 25 Nov 2026 10:10:10 GMT"
Content-Transfer-Encoding: base64

$(printf 'Version: 1\r\n' | base64)

--_003_sealtag0exchange0mangled_
Content-Type: application/octet-stream; name="encrypted.asc"
Content-Description: OpenPGP encrypted message.asc
Content-Disposition: attachment; filename="encrypted.asc";
	creation-date="Wed, 25 Nov 2026 10:10:10 GMT";
	modification-date="Wed, 25 Nov 2026 10:10:10 GMT"
Content-Transfer-Encoding: base64

$(b64 pgp-enc-mime.asc)

--_003_sealtag0exchange0mangled_--
EOF
} | emit pgp-encrypted-exchange-mangled

{
	hdr pgp-encrypted-forwarded 'Fwd: Contract'
	cat <<EOF
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="=_sealtag_fwd_pgp"

--=_sealtag_fwd_pgp
Content-Type: text/plain; charset=us-ascii

Forwarding Carol's encrypted message as an attachment.

--=_sealtag_fwd_pgp
Content-Type: message/rfc822

$(fwd_hdr fwd-pgp-inner 'Contract')
MIME-Version: 1.0
$(pgpmime_entity pgp-enc-mime.asc sealtag-pgp-fwd-inner)

--=_sealtag_fwd_pgp--
EOF
} | emit pgp-encrypted-forwarded

# pgp_signed STEM SUBJECT PART-FILE BOUNDARY: RFC 3156 multipart/signed over PART-FILE, the
# signature made over the CRLF-canonical part as section 5 requires, and checked with gpg.
pgp_signed() {
	local stem=$1 subj=$2 part=$3 b=$4
	sed 's/\r$//; s/$/\r/' "$part" >"$part.crlf"
	truncate -s -2 "$part.crlf" # the CRLF before the boundary belongs to the boundary
	q gpgq -u alice@example.org --digest-algo SHA256 --detach-sign --armor -o "$part.sig" "$part.crlf"
	q gpgq --verify "$part.sig" "$part.crlf"
	hdr "$stem" "$subj"
	cat <<EOF
MIME-Version: 1.0
Content-Type: multipart/signed; micalg=pgp-sha256;
 protocol="application/pgp-signature";
 boundary="$b"

This is an OpenPGP/MIME signed message (RFC 4880 and 3156)
--$b
$(cat "$part")
--$b
Content-Type: application/pgp-signature; name="signature.asc"
Content-Description: OpenPGP digital signature
Content-Disposition: attachment; filename="signature.asc"

$(cat "$part.sig")

--$b--
EOF
}
printf 'Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\nHi Bob,\n\nthe minutes are final; nothing secret, just signed.\n\nAlice\n' >signed-part.mime
pgp_signed pgp-signed-detached 'Minutes' signed-part.mime sealtag-pgpsig-1 | emit pgp-signed-detached

{
	cat <<EOF
Content-Type: multipart/mixed; boundary="=_sealtag_signed_fwd"

--=_sealtag_signed_fwd
Content-Type: text/plain; charset=us-ascii

Bob, here is Carol's encrypted message; my note is signed.

--=_sealtag_signed_fwd
Content-Type: message/rfc822

$(fwd_hdr signed-fwd-inner 'Contract')
MIME-Version: 1.0
$(pgpmime_entity pgp-enc-mime.asc sealtag-pgp-signed-fwd-inner)

--=_sealtag_signed_fwd--
EOF
} >signed-fwd.mime
pgp_signed layered-pgp-signed-over-forwarded-encrypted 'Fwd: Contract' signed-fwd.mime sealtag-pgpsig-2 |
	emit layered-pgp-signed-over-forwarded-encrypted

# S/MIME multipart/signed whose signed body is a PGP/MIME multipart/encrypted entity.
pgpmime_entity pgp-enc-mime.asc sealtag-pgp-under-smime >pgp-under-smime.mime
q openssl smime -sign -in pgp-under-smime.mime -signer alice.crt -inkey alice.key -out smime-over-pgp.txt
fixbound smime-over-pgp.txt '----=_sealtag_smime_over_pgp'
q openssl smime -verify -CAfile ca.crt -in smime-over-pgp.txt -out /dev/null
{ hdr layered-smime-signed-over-pgp-encrypted 'Contract'; cat smime-over-pgp.txt; } | emit layered-smime-signed-over-pgp-encrypted

# ------------------------------------------------------------------ inline PGP
{
	hdr pgp-inline-encrypted-7bit 'Contract'
	printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\n'
	printf 'Hi Bob, see below.\n\n'
	cat pgp-enc.asc
} | emit pgp-inline-encrypted-7bit
{
	hdr pgp-inline-encrypted-qp 'Contract'
	printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n'
	py qp <pgp-enc.asc
} | emit pgp-inline-encrypted-qp
{
	hdr pgp-inline-encrypted-base64 'Contract'
	printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n'
	b64 pgp-enc.asc
} | emit pgp-inline-encrypted-base64
{
	hdr pgp-inline-encrypted-symmetric 'Contract'
	printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n'
	cat pgp-sym.asc
} | emit pgp-inline-encrypted-symmetric
{
	hdr pgp-inline-encrypted-html-pre 'Contract'
	cat <<EOF
MIME-Version: 1.0
Content-Type: text/html; charset=UTF-8
Content-Transfer-Encoding: 7bit

<html>
<head>
<meta http-equiv="content-type" content="text/html; charset=UTF-8">
</head>
<body>
<pre>
$(cat pgp-enc.asc)
</pre>
</body>
</html>
EOF
} | emit pgp-inline-encrypted-html-pre
{
	hdr pgp-inline-encrypted-html-pre-sameline 'Contract'
	cat <<EOF
MIME-Version: 1.0
Content-Type: text/html; charset=UTF-8
Content-Transfer-Encoding: 7bit

<html><body><p>Hi Bob,</p>
<pre>$(cat pgp-enc.asc)</pre>
</body></html>
EOF
} | emit pgp-inline-encrypted-html-pre-sameline
{
	hdr pgp-inline-encrypted-html-br 'Contract'
	printf 'MIME-Version: 1.0\nContent-Type: text/html; charset=UTF-8\nContent-Transfer-Encoding: quoted-printable\n\n'
	{
		printf '<html><body><div dir="ltr">Hi Bob,<br><br>'
		sed 's/$/<br>/' pgp-enc.asc | tr -d '\n'
		printf '</div></body></html>\n'
	} | py qp
} | emit pgp-inline-encrypted-html-br
{
	hdr pgp-inline-encrypted-attachment-asc 'Contract'
	cat <<EOF
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="=_sealtag_asc_att"

--=_sealtag_asc_att
Content-Type: text/plain; charset=us-ascii

Bob, the file is attached.

--=_sealtag_asc_att
Content-Type: text/plain; charset=us-ascii; name="file.txt.asc"
Content-Disposition: attachment; filename="file.txt.asc"
Content-Transfer-Encoding: 7bit

$(cat pgp-enc.asc)

--=_sealtag_asc_att--
EOF
} | emit pgp-inline-encrypted-attachment-asc
{
	hdr pgp-inline-encrypted-after-signed 'Contract'
	printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n'
	printf 'The public part, signed:\n\n'
	cat pgp-clear.asc
	printf '\nThe private part, encrypted:\n\n'
	cat pgp-enc.asc
} | emit pgp-inline-encrypted-after-signed
{
	hdr pgp-inline-signed-clearsign 'Contract'
	printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n'
	cat pgp-clear.asc
} | emit pgp-inline-signed-clearsign
for v in sign-armor:pgp-signed-comp.asc sign-nocompress:pgp-signed-ops.asc store:pgp-store.asc; do
	stem=pgp-inline-signed-${v%%:*}
	{
		hdr "$stem" 'Contract'
		printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n'
		cat "${v#*:}"
	} | emit "$stem"
done

# ------------------------------------------------------------------ negatives with real crypto
{
	FROM='Bob Example <bob@example.net>' TO='Alice Example <alice@example.org>' RP=bob@example.net \
		hdr neg-quoted-armor 'Re: Contract' 'In-Reply-To: <pgp-inline-encrypted-7bit@sealtag.test>' \
		'References: <pgp-inline-encrypted-7bit@sealtag.test>'
	printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n'
	printf 'Alice, I cannot read this; my key is on the laptop at home.\n\nOn Wed, 25 Nov 2026, Alice Example wrote:\n> Hi Bob, see below.\n>\n'
	sed 's/^/> /' pgp-enc.asc
} | emit neg-quoted-armor
{
	hdr neg-autocrypt-pubkey 'My OpenPGP key' \
		"Autocrypt: addr=alice@example.org; prefer-encrypt=mutual; keydata=
$(base64 -w 72 alice-pub.gpg | sed 's/^/ /')"
	cat <<EOF
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="=_sealtag_keys"

--=_sealtag_keys
Content-Type: text/plain; charset=us-ascii

Hi Bob, here is my public key, also attached:

$(cat alice-pub.asc)

--=_sealtag_keys
Content-Type: application/pgp-keys; name="OpenPGP_0xALICE.asc"
Content-Disposition: attachment; filename="OpenPGP_0xALICE.asc"
Content-Transfer-Encoding: 7bit

$(cat alice-pub.asc)

--=_sealtag_keys--
EOF
} | emit neg-autocrypt-pubkey
{
	hdr neg-lone-signature 'Minutes'
	printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n'
	printf 'Meeting notes, 24 November 2026.\nBudget approved.\n\n'
	cat pgp-lone-sig.asc
} | emit neg-lone-signature
{
	hdr neg-pgp-message-pubkey-packet 'My key, oddly armored'
	printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n'
	printf 'My tool labelled my public key as a message, sorry:\n\n'
	cat pubkey-as-message.asc
} | emit neg-pgp-message-pubkey-packet

# ------------------------------------------------------------------ vendor wrappers
# att_msg STEM SUBJECT TEXT-CT TEXT ATT-HEADERS FILE: multipart/mixed, one text part + one
# base64 attachment.
att_msg() {
	local stem=$1 subj=$2 tct=$3 text=$4 ahdr=$5 file=$6 b="=_sealtag_${1//-/_}"
	hdr "$stem" "$subj"
	cat <<EOF
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="$b"

--$b
$tct

$text

--$b
$ahdr
Content-Transfer-Encoding: base64

$(b64 "$file")

--$b--
EOF
}
RPMSG_NOTE='Alice Example has sent you a protected message. Open it with Outlook or the Microsoft Purview Message Encryption portal.
Microsoft Purview Message Encryption'
att_msg proprietary-ome-rpmsg 'Contract' 'Content-Type: text/plain; charset=us-ascii' "$RPMSG_NOTE" \
	'Content-Type: application/x-microsoft-rpmsg-message; name="message.rpmsg"
Content-Disposition: attachment; filename="message.rpmsg"' rpmsg.bin | emit proprietary-ome-rpmsg
att_msg proprietary-ome-rpmsg-v2 'Contract' 'Content-Type: text/plain; charset=us-ascii' "$RPMSG_NOTE" \
	'Content-Type: application/octet-stream; name="message_v2.rpmsg"
Content-Disposition: attachment; filename="message_v2.rpmsg"' rpmsg2.bin | emit proprietary-ome-rpmsg-v2
att_msg proprietary-ome-rpmsg-type-only 'Contract' 'Content-Type: text/plain; charset=us-ascii' "$RPMSG_NOTE" \
	'Content-Type: application/x-microsoft-rpmsg-message' rpmsg.bin | emit proprietary-ome-rpmsg-type-only

# vendor_html FILE TITLE: an HTML attachment holding a random payload the way vendors' secure
# envelopes do (a form posting an opaque blob to the vendor's portal).
vendor_html() {
	{
		printf '<html><head><title>%s</title></head><body>\n' "$2"
		printf '<form method="post" action="https://secure.example.invalid/open">\n'
		printf '<input type="hidden" name="envelope" value="%s">\n' "$(head -c 2400 /dev/urandom | base64 -w 0)"
		printf '<input type="submit" value="Open message"></form></body></html>\n'
	} >"$1"
}
vendor_html ome-message.html 'Encrypted message'
att_msg proprietary-ome-legacy-html 'Contract' 'Content-Type: text/html; charset=utf-8' \
	"<html><body><p>You've received an encrypted message from alice@example.org</p>
<p>To view your message, save and open the attachment (message.html), and follow the instructions.</p>
<p>Sign in using the following email address: bob@example.net</p>
<p>Message encryption by Microsoft Office 365</p></body></html>" \
	'Content-Type: text/html; name="message.html"
Content-Disposition: attachment; filename="message.html"' ome-message.html | emit proprietary-ome-legacy-html
att_msg neg-ome-message-html-no-notice 'The page you asked for' 'Content-Type: text/plain; charset=us-ascii' \
	'Hi Bob, I saved the web page you asked about; it is attached.' \
	'Content-Type: text/html; name="message.html"
Content-Disposition: attachment; filename="message.html"' ome-message.html | emit neg-ome-message-html-no-notice
vendor_html proofpoint.html 'Proofpoint Encryption'
att_msg proprietary-other-proofpoint 'Contract' 'Content-Type: text/plain; charset=us-ascii' \
	'You have received a secure message.
Read your secure message by opening the attachment, SecureMessageAtt.html.' \
	'Content-Type: text/html; name="SecureMessageAtt.html"
Content-Disposition: attachment; filename="SecureMessageAtt.html"' proofpoint.html | emit proprietary-other-proofpoint
vendor_html cisco.html 'Cisco Secure Email Encryption'
att_msg proprietary-other-cisco 'Contract' 'Content-Type: text/plain; charset=us-ascii' \
	'You have received a secure message.
Open the attachment securedoc_20261125T101010.html to read it.' \
	'Content-Type: text/html; name="securedoc_20261125T101010.html"
Content-Disposition: attachment; filename="securedoc_20261125T101010.html"' cisco.html | emit proprietary-other-cisco
vendor_html virtru.html 'Virtru Secure Message'
att_msg proprietary-other-virtru 'Contract' 'Content-Type: text/plain; charset=us-ascii' \
	'Alice Example has sent you an email secured with Virtru. Open message.tdf.html to unlock it.' \
	'Content-Type: text/html; name="message.tdf.html"
Content-Disposition: attachment; filename="message.tdf.html"' virtru.html | emit proprietary-other-virtru

# GpgOL (Outlook): the whole PGP/MIME structure travels as an attachment.
{ echo 'MIME-Version: 1.0'; pgpmime_entity pgp-enc-mime.asc sealtag-gpgol-inner; } >gpgol.mime
{
	hdr proprietary-other-gpgol 'Contract'
	cat <<EOF
Content-Type: multipart/mixed;
	boundary="_002_sealtag0gpgol0structure_"
MIME-Version: 1.0

--_002_sealtag0gpgol0structure_
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: base64


--_002_sealtag0gpgol0structure_
Content-Type: application/octet-stream; name="GpgOL_MIME_structure.mime"
Content-Description: GpgOL_MIME_structure.mime
Content-Disposition: attachment; filename="GpgOL_MIME_structure.mime";
Content-Transfer-Encoding: base64

$(b64 gpgol.mime)

--_002_sealtag0gpgol0structure_--
EOF
} | emit proprietary-other-gpgol

# ------------------------------------------------------------------ encrypted attachments
T='Content-Type: text/plain; charset=us-ascii'
att_msg encrypted-attachment-zip-zipcrypto 'Notes' "$T" 'Notes attached; the password follows by phone.' \
	'Content-Type: application/zip; name="notes.zip"
Content-Disposition: attachment; filename="notes.zip"' zipcrypto.zip | emit encrypted-attachment-zip-zipcrypto
att_msg encrypted-attachment-pdf-rc4-128 'Report' "$T" 'Report attached (password protected).' \
	'Content-Type: application/pdf; name="report.pdf"
Content-Disposition: attachment; filename="report.pdf"' pdf-rc4-128.pdf | emit encrypted-attachment-pdf-rc4-128
att_msg encrypted-attachment-pdf-aes-128 'Report' "$T" 'Report attached (password protected).' \
	'Content-Type: application/pdf; name="report.pdf"
Content-Disposition: attachment; filename="report.pdf"' pdf-aes-128.pdf | emit encrypted-attachment-pdf-aes-128
att_msg encrypted-attachment-pdf-aes-256 'Report' "$T" 'Report attached (password protected).' \
	'Content-Type: application/pdf; name="report.pdf"
Content-Disposition: attachment; filename="report.pdf"' pdf-aes-256.pdf | emit encrypted-attachment-pdf-aes-256
att_msg encrypted-attachment-ooxml-cfb 'Minutes' "$T" 'Minutes attached (password protected).' \
	'Content-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document; name="minutes.docx"
Content-Disposition: attachment; filename="minutes.docx"' ooxml-encrypted.docx | emit encrypted-attachment-ooxml-cfb
att_msg encrypted-attachment-gpg-binary 'Report' "$T" 'Report attached, encrypted to your key.' \
	'Content-Type: application/octet-stream; name="report.pdf.gpg"
Content-Disposition: attachment; filename="report.pdf.gpg"' report.pdf.gpg | emit encrypted-attachment-gpg-binary
att_msg encrypted-attachment-pgp-binary 'Report' "$T" 'Report attached, encrypted to your key.' \
	'Content-Type: application/octet-stream; name="report.pgp"
Content-Disposition: attachment; filename="report.pgp"' report.pgp | emit encrypted-attachment-pgp-binary
att_msg encrypted-attachment-armored-asc 'Notes' "$T" 'Notes attached, encrypted to your key.' \
	'Content-Type: application/octet-stream; name="notes.asc"
Content-Disposition: attachment; filename="notes.asc"' notes.asc | emit encrypted-attachment-armored-asc

{
	hdr encrypted-attachment-zip-forwarded 'Fwd: Notes'
	cat <<EOF
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="=_sealtag_fwd_zip"

--=_sealtag_fwd_zip
Content-Type: text/plain; charset=us-ascii

Forwarding Carol's mail with the protected notes.

--=_sealtag_fwd_zip
Content-Type: message/rfc822

$(fwd_hdr fwd-zip-inner 'Notes')
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="=_sealtag_fwd_zip_inner"

--=_sealtag_fwd_zip_inner
Content-Type: text/plain; charset=us-ascii

Notes attached.

--=_sealtag_fwd_zip_inner
Content-Type: application/zip; name="notes.zip"
Content-Disposition: attachment; filename="notes.zip"
Content-Transfer-Encoding: base64

$(b64 zipcrypto.zip)

--=_sealtag_fwd_zip_inner--

--=_sealtag_fwd_zip--
EOF
} | emit encrypted-attachment-zip-forwarded

att_msg neg-zip-plain 'Notes' "$T" 'Notes attached.' \
	'Content-Type: application/zip; name="notes.zip"
Content-Disposition: attachment; filename="notes.zip"' plain.zip | emit neg-zip-plain
att_msg neg-pdf-plain 'Report' "$T" 'Report attached.' \
	'Content-Type: application/pdf; name="report.pdf"
Content-Disposition: attachment; filename="report.pdf"' plain.pdf | emit neg-pdf-plain
att_msg neg-pdf-encrypt-in-stream 'Report' "$T" 'Report attached.' \
	'Content-Type: application/pdf; name="pdf-encryption-howto.pdf"
Content-Disposition: attachment; filename="pdf-encryption-howto.pdf"' pdf-encrypt-text.pdf | emit neg-pdf-encrypt-in-stream
att_msg neg-pdf-encrypt-in-compressed-stream 'Report' "$T" 'Report attached.' \
	'Content-Type: application/pdf; name="pdf-encryption-howto.pdf"
Content-Disposition: attachment; filename="pdf-encryption-howto.pdf"' pdf-encrypt-flate.pdf | emit neg-pdf-encrypt-in-compressed-stream
att_msg neg-docx-plain 'Minutes' "$T" 'Minutes attached.' \
	'Content-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document; name="minutes.docx"
Content-Disposition: attachment; filename="minutes.docx"' plain.docx | emit neg-docx-plain
att_msg neg-cfb-doc-plain 'Minutes' "$T" 'Minutes attached (old Word format).' \
	'Content-Type: application/msword; name="minutes.doc"
Content-Disposition: attachment; filename="minutes.doc"' plain.doc | emit neg-cfb-doc-plain

# ------------------------------------------------------------------ ranking among several findings
{
	hdr layered-depth-precedence 'Contract'
	cat <<EOF
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="=_sealtag_depth_outer"

--=_sealtag_depth_outer
Content-Type: multipart/alternative; boundary="=_sealtag_depth_alt"

--=_sealtag_depth_alt
Content-Type: text/plain; charset=us-ascii

$(cat pgp-enc.asc)

--=_sealtag_depth_alt
Content-Type: text/html; charset=us-ascii

<html><body><p>This message is encrypted; use the plain-text part.</p></body></html>

--=_sealtag_depth_alt--

--=_sealtag_depth_outer
Content-Type: application/zip; name="notes.zip"
Content-Disposition: attachment; filename="notes.zip"
Content-Transfer-Encoding: base64

$(b64 zipcrypto.zip)

--=_sealtag_depth_outer--
EOF
} | emit layered-depth-precedence
{
	hdr layered-first-seen 'Contract'
	cat <<EOF
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="=_sealtag_first_seen"

--=_sealtag_first_seen
Content-Type: text/plain; charset=us-ascii

Two attachments: a protected zip and an S/MIME-encrypted part.

--=_sealtag_first_seen
Content-Type: application/zip; name="notes.zip"
Content-Disposition: attachment; filename="notes.zip"
Content-Transfer-Encoding: base64

$(b64 zipcrypto.zip)

--=_sealtag_first_seen
Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"
Content-Disposition: attachment; filename="smime.p7m"
Content-Transfer-Encoding: base64

$(b64 env.der)

--=_sealtag_first_seen--
EOF
} | emit layered-first-seen

# ------------------------------------------------------------------ bounds
# nest N STEM: N message/rfc822 levels (each inside a multipart/mixed) around an S/MIME
# enveloped-data part.
nest() {
	local n=$1 stem=$2 i b
	{
		printf 'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"\n'
		printf 'Content-Transfer-Encoding: base64\n\n'
		b64 env.der
	} >cur.ent
	for ((i = n; i >= 1; i--)); do
		b="=_sealtag_nest_$i"
		{
			printf 'Content-Type: multipart/mixed; boundary="%s"\n\n' "$b"
			printf -- '--%s\nContent-Type: text/plain; charset=us-ascii\n\nForwarded, level %d.\n\n' "$b" "$i"
			printf -- '--%s\nContent-Type: message/rfc822\n\n' "$b"
			printf 'From: Relay %d <relay%d@example.org>\nSubject: Fwd: level %d\n' "$i" "$i" "$i"
			printf 'Date: %s\nMessage-ID: <%s-level-%d@sealtag.test>\nMIME-Version: 1.0\n' "$DATE" "$stem" "$i"
			cat cur.ent
			printf '\n--%s--\n' "$b"
		} >next.ent
		mv next.ent cur.ent
	done
	hdr "$stem" "Fwd: nested $n levels"
	printf 'MIME-Version: 1.0\n'
	cat cur.ent
}
nest 40 bounds-nested-40 | emit bounds-nested-40
nest 5 bounds-nested-5 | emit bounds-nested-5
{
	hdr bounds-parts-2000 'Many parts'
	printf 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="p"\n\n'
	for ((i = 1; i <= 2000; i++)); do printf -- '--p\n\npart %d\n' "$i"; done
	printf -- '--p--\n'
} | emit bounds-parts-2000

# ------------------------------------------------------------------ checks
mapfile -t GENERATED <"$WORK/generated.list"
for f in "${GENERATED[@]}"; do
	s=$(stat -c %s "$OUT/$f")
	((s < 200 * 1024)) || die "$f is $s bytes (limit 200 KiB)"
done
echo "gen.sh: wrote ${#GENERATED[@]} messages to $OUT" >&2
GNUPGHOME="$GPGH" python3 "$HERE/verify.py" "$OUT" "${GENERATED[@]}"
