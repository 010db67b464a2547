#!/usr/bin/env bash
# gen.sh - make the load corpus for milterload (contrib/milterload) and `make bench-milter`.
#
#   bash testdata/load/gen.sh [DIR]        (default DIR: /tmp/sealtag-load)
#
# Writes DIR/NNN-KIND.eml: 200 messages, median about 20 KiB, about 18 MiB in all: plain
# text, HTML, multipart with attachments, S/MIME encrypted / signed / opaque / sign+encrypt,
# PGP/MIME encrypted and signed, inline PGP, encrypted attachments, forwarded encrypted mail,
# relay-style From/Reply-To (privacy relays, SRS), replies with In-Reply-To/References, a
# bounce, list mail; 8 messages carry a 200 KiB attachment (one S/MIME, one PGP/MIME
# encrypted) and 4 a 2 MiB one (one S/MIME encrypted, 3.7 MiB). And DIR/big/huge-50mib.eml,
# one 50 MiB message, kept apart so a throughput run over DIR does not spend most of its
# time on it (send it alone: milterload -corpus DIR/big -n 1). DIR/MANIFEST.tsv lists name,
# kind and bytes of each.
#
# Every crypto blob is real output of openssl or gpg with throwaway keys made in a temp dir
# (deleted at the end). Everything else (text, sizes, attachment bytes, boundaries, dates,
# Message-IDs, the order) comes from a seeded PRNG, so reruns differ only in key material,
# ciphertext and signatures. The corpus is large: it is not committed, rerun the script.
# Needs openssl, gpg and python3 (standard library), installed with apt-get when missing.
# Offline, a few seconds on 2 cores.
set -euo pipefail

OUT=${1:-/tmp/sealtag-load}
export LC_ALL=C TZ=UTC

# shellcheck source=testdata/gen/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../gen/lib.sh"
ensure_tools gpg:gnupg gpg-agent:gpg-agent openssl:openssl python3:python3

case $OUT in /|"") die "refusing to write into '$OUT'" ;; esac
mkdir -p "$OUT/big"
OUT=$(cd "$OUT" && pwd)
# Only what this script writes is removed, so a rerun leaves exactly the new set.
rm -f "$OUT"/*.eml "$OUT"/big/*.eml "$OUT/MANIFEST.tsv"

work_dir sealtag-load-gen
make_keys "Sealtag Load"

python3 - "$WORK" "$OUT" "$GPGH" <<'PY'
import base64, math, os, quopri, random, subprocess, sys, time

WORK, OUT, GPGH = sys.argv[1:4]
T0 = time.time()
R = random.Random(20261125)  # the corpus seed: change it and every non-crypto byte changes

def run(*args, stdin=None):
    p = subprocess.run(args, input=stdin, capture_output=True)
    if p.returncode != 0:
        sys.exit("gen.sh: failed: %s\n%s" % (" ".join(args), p.stderr.decode(errors="replace")))
    return p.stdout

def tmp(name, data):
    path = os.path.join(WORK, name)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    return path

def gpg(*args, stdin):
    return run("gpg", "--homedir", GPGH, "--batch", "--yes", "--no-tty", "--pinentry-mode", "loopback",
               "--trust-model", "always", *args, stdin=stdin)

def openssl(*args):
    return run("openssl", *args).decode().replace("\r", "")

# ------------------------------------------------------------------ text
WORDS = ("the of and to in is that for it as with was on be by this are from at or have an they which one you "
         "were all we there would their will when who been has more if no out so said what up its about into than "
         "them can only other new some could time these two may then do first any now such like our over even most "
         "made after also did many before must through back years where much your way well down should because "
         "each just those people how too little state good very make world still own see work long get here "
         "between both life being under never day same another know while last might great old year off come "
         "since against go came right used take three contract invoice meeting budget quarter release server "
         "delivery schedule report draft review customer ticket support migration backup certificate policy "
         "account renewal shipment warehouse payroll audit roadmap deadline vendor proposal agenda minutes").split()
NAMES = ["Alice Example", "Bob Example", "Carol Example", "Dave Sample", "Erin Muster", "Frank Beispiel",
         "Grace Exemple", "Heidi Ejemplo", "Ivan Primer", "Judy Esempio"]
UTF8 = ["Grüße", "Straße", "naïve", "façade", "Ærø", "Łódź", "déjà vu", "smörgåsbord"]

def sentence(rng):
    n = rng.randint(6, 18)
    w = [rng.choice(WORDS) for _ in range(n)]
    if rng.random() < 0.05:
        w[rng.randrange(n)] = rng.choice(UTF8)
    return " ".join(w).capitalize() + rng.choice([".", ".", ".", "?", "!"])

def wrap(text, width=72):
    out, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            out.append(line)
            line = word
        else:
            line = word if not line else line + " " + word
    out.append(line)
    return "\n".join(out)

def text_of(rng, size):
    paras, n = [], 0
    while n < size:
        p = wrap(" ".join(sentence(rng) for _ in range(rng.randint(2, 7))))
        paras.append(p)
        n += len(p) + 2
    return "Hello,\n\n" + "\n\n".join(paras) + "\n\nRegards\n"

def html_of(text):
    body = "".join("<p>%s</p>\n" % p.replace("\n", " ") for p in text.split("\n\n"))
    return ('<!DOCTYPE html>\n<html><head><meta charset="utf-8"><style>p{font-family:Arial,sans-serif;'
            'font-size:14px;color:#222}</style></head>\n<body>\n<div class="content">\n' + body +
            '</div>\n<p style="font-size:11px;color:#888">You receive this because you are a customer. '
            '<a href="https://news.example.com/unsubscribe?u=4711">Unsubscribe</a></p>\n</body></html>\n')

def qp(s):
    return quopri.encodestring(s.encode()).decode()

def is_ascii(s):
    return all(ord(c) < 128 for c in s)

def b64(data):
    return base64.encodebytes(data).decode()

# ------------------------------------------------------------------ MIME pieces
def text_part(rng, size, html=False):
    """A text entity (headers + body, no MIME-Version): plain, or multipart/alternative."""
    t = text_of(rng, size)
    enc = "7bit" if is_ascii(t) else "quoted-printable"
    tb = t if enc == "7bit" else qp(t)
    plain = "Content-Type: text/plain; charset=utf-8; format=flowed\nContent-Transfer-Encoding: %s\n\n%s" % (enc, tb)
    if not html:
        return plain
    b = "alt-%08x" % rng.getrandbits(32)
    h = "Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n" + qp(html_of(t))
    return ('Content-Type: multipart/alternative; boundary="%s"\n\n--%s\n%s\n--%s\n%s\n--%s--\n'
            % (b, b, plain, b, h, b))

# Attachment bytes: a format's magic, then PRNG bytes. A zip header is spelled out up to its
# flags (version 2.0, flags 0, deflate) so no attachment claims the zip encryption bit by chance.
ZIP = b"PK\x03\x04\x14\x00\x00\x00\x08\x00"
ATTACH = [("application/pdf", "pdf", b"%PDF-1.7\n"), ("image/png", "png", b"\x89PNG\r\n\x1a\n"),
          ("image/jpeg", "jpg", b"\xff\xd8\xff\xe0"), ("application/zip", "zip", ZIP),
          ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx", ZIP)]

def attachment(rng, size, name=None, ctype=None, data=None):
    ct, ext, magic = rng.choice(ATTACH)
    if ctype == "application/zip":
        magic = ZIP
    ct = ctype or ct
    name = name or "%s-%04d.%s" % (rng.choice(["report", "scan", "photo", "invoice", "notes"]), rng.randrange(10000), ext)
    if data is None:
        data = magic + rng.randbytes(max(0, size - len(magic)))
    return ('Content-Type: %s; name="%s"\nContent-Disposition: attachment; filename="%s"\n'
            'Content-Transfer-Encoding: base64\n\n%s' % (ct, name, name, b64(data)))

def mixed(rng, parts):
    b = "mix-%08x" % rng.getrandbits(32)
    return ('Content-Type: multipart/mixed; boundary="%s"\n\nThis is a multi-part message in MIME format.\n'
            % b + "".join("\n--%s\n%s" % (b, p) for p in parts) + "\n--%s--\n" % b)

def fix_boundary(entity, new):
    """openssl picks a random boundary; a fixed one keeps reruns alike (outside the signature)."""
    for line in entity.split("\n"):
        if 'boundary="' in line:
            old = line.split('boundary="', 1)[1].split('"', 1)[0]
            return entity.replace(old, new)
    return entity

def strip_mime_version(entity):
    return "\n".join(l for l in entity.split("\n") if not l.startswith("MIME-Version:"))

def smime_encrypt(entity):
    return strip_mime_version(openssl("smime", "-encrypt", "-aes256", "-in", tmp("in.mime", entity), os.path.join(WORK, "bob.crt")))

def smime_sign(entity, i, detached=True):
    args = ["smime", "-sign", "-in", tmp("in.mime", entity), "-signer", os.path.join(WORK, "alice.crt"),
            "-inkey", os.path.join(WORK, "alice.key")]
    if not detached:
        args.append("-nodetach")
    out = strip_mime_version(openssl(*args))
    return fix_boundary(out, "----=_load_signed_%03d" % i) if detached else out

def pgp_encrypt(data, sign=False):
    args = ["-ea", "-r", "bob@example.net"] + (["-s", "-u", "alice@example.org"] if sign else [])
    return gpg(*args, stdin=data.encode() if isinstance(data, str) else data).decode()

def pgp_mime_encrypted(entity, i, sign=False):
    b = "pgp-enc-%03d" % i
    return ('Content-Type: multipart/encrypted; protocol="application/pgp-encrypted";\n boundary="%s"\n\n'
            'This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\n--%s\n'
            'Content-Type: application/pgp-encrypted\nContent-Description: PGP/MIME version identification\n\n'
            'Version: 1\n\n--%s\nContent-Type: application/octet-stream; name="encrypted.asc"\n'
            'Content-Description: OpenPGP encrypted message\nContent-Disposition: inline; filename="encrypted.asc"\n\n'
            '%s\n--%s--\n' % (b, b, b, pgp_encrypt(entity, sign), b))

def pgp_mime_signed(entity, i):
    # RFC 3156 section 5: the signed part is canonical (CRLF) when the signature is made.
    sig = gpg("--detach-sign", "--armor", "--digest-algo", "SHA256", "-u", "alice@example.org",
              stdin=entity.replace("\n", "\r\n").encode()).decode()
    b = "pgp-sig-%03d" % i
    return ('Content-Type: multipart/signed; micalg=pgp-sha256;\n protocol="application/pgp-signature";\n'
            ' boundary="%s"\n\nThis is an OpenPGP/MIME signed message (RFC 4880 and 3156)\n--%s\n%s\n--%s\n'
            'Content-Type: application/pgp-signature; name="signature.asc"\n'
            'Content-Description: OpenPGP digital signature\nContent-Disposition: attachment; filename="signature.asc"\n\n'
            '%s\n--%s--\n' % (b, b, entity, b, sig, b))

# ------------------------------------------------------------------ headers
DOMAINS = ["example.org", "example.com", "example.net", "mail.example.org", "partner.example.net", "lists.example.org"]
MAILERS = ["Mozilla Thunderbird 115.5.0", "Microsoft Outlook 16.0", "Apple Mail (2.3774)", "Roundcube Webmail/1.6.5",
           "K-9 Mail for Android", "Evolution 3.46.4"]

def date(i):
    # Spread over Nov 2026, deterministic.
    day, sec = 1 + i % 28, (i * 7919) % 86400
    return "%s, %02d Nov 2026 %02d:%02d:%02d +0000" % (
        ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][(day + 6) % 7], day, sec // 3600, sec // 60 % 60, sec % 60)

def received(rng, i, hop):
    ip = "198.51.100.%d" % rng.randint(1, 254)
    host = "mx%d.%s" % (hop, rng.choice(DOMAINS))
    return ("Received: from %s (%s [%s])\n\tby relay%d.example.com (Postfix) with ESMTPS id %010X\n"
            "\tfor <%s>; %s" % (host, host, ip, hop, rng.getrandbits(40), "bob@example.net", date(i)))

def dkim(rng, dom):
    sig = base64.b64encode(rng.randbytes(256)).decode()
    bh = base64.b64encode(rng.randbytes(32)).decode()
    folded = "\n\t ".join(sig[k:k + 70] for k in range(0, len(sig), 70))
    return ("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=%s; s=s2026;\n\tt=1795000000; "
            "bh=%s;\n\th=From:To:Subject:Date:Message-ID:MIME-Version:Content-Type;\n\tb=%s" % (dom, bh, folded))

# Relay-style senders (NOTES section 5 shapes; random parts are made up here).
def relay(rng):
    tok = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(10))
    kind = rng.randrange(7)
    if kind == 0:
        return ({"From": '"carol@example.com [via Relay]" <%s@mozmail.com>' % tok,
                 "Reply-To": "<replies@relay.firefox.com>"}, ["Resent-From: <%s@mozmail.com>" % tok])
    if kind == 1:
        return ({"From": '"Carol Example - carol at example.com" <carol_at_example_com_%s@simplelogin.co>' % tok[:6]},
                ["X-SimpleLogin-Type: Forward", "X-SimpleLogin-EmailLog-ID: %d" % rng.randrange(10**8)])
    if kind == 2:
        return ({"From": '"carol at example.com" <carol_at_example.com_%s@duck.com>' % tok[:8]}, [])
    if kind == 3:
        return ({"From": "Carol Example <%s@privaterelay.appleid.com>" % tok}, [])
    if kind == 4:
        return ({"From": '"Carol Example" <%s+carol=example.com@anonaddy.me>' % tok[:8]},
                ["Feedback-ID: F:%s:anonaddy" % tok])
    if kind == 5:
        return ({"From": "Carol Example <carol@example.com>", "Reply-To": "%s@passmail.net" % tok}, [])
    return ({"From": "Carol Example <carol@example.com>"}, [], )

def srs(rng):
    h = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(4))
    return "SRS0=%s=%s=example.com=carol@forwarder.example.org" % (h, rng.choice(["TT", "Q3", "ZX"]))

def header_block(rng, i, kind, subject, to, frm, extra, rp, reply):
    dom = frm.rsplit("@", 1)[-1].rstrip(">") if "@" in frm else "example.org"
    h = []
    if rp is not None:
        h.append("Return-Path: <%s>" % rp)
    for hop in range(rng.randint(1, 3)):
        h.append(received(rng, i, hop))
    if rng.random() < 0.6:
        h.append(dkim(rng, dom))
    h += ["From: %s" % frm, "To: %s" % to]
    if rng.random() < 0.15:
        h.append("Cc: %s <dave@example.com>" % rng.choice(NAMES))
    h.append("Subject: %s%s" % ("Re: " if reply else "", subject))
    h += ["Date: %s" % date(i), "Message-ID: <load-%03d.%s@%s>" % (i, kind, dom)]
    if reply:
        parent = "<load-parent-%03d@example.net>" % i
        h += ["In-Reply-To: %s" % parent, "References: <load-root-%03d@example.org>\n %s" % (i, parent)]
    if rng.random() < 0.5:
        h.append("User-Agent: %s" % rng.choice(MAILERS))
    h += extra
    h.append("MIME-Version: 1.0")
    return "\n".join(h) + "\n"

# ------------------------------------------------------------------ the mix
KINDS = (["plain"] * 53 + ["html"] * 30 + ["attach"] * 28 + ["attach-200k"] * 6 + ["attach-2m"] * 3 +
         ["smime-enc"] * 13 + ["smime-enc-200k"] + ["smime-enc-2m"] + ["smime-signed"] * 10 +
         ["smime-opaque"] * 3 + ["smime-sign-enc"] * 2 + ["pgp-mime-enc"] * 11 + ["pgp-mime-enc-200k"] +
         ["pgp-mime-signed"] * 8 + ["pgp-inline-enc"] * 6 + ["pgp-inline-signed"] * 6 +
         ["enc-attachment"] * 4 + ["fwd-smime"] * 2 + ["fwd-pgp"] * 2 + ["bounce"] * 2 + ["probe"] * 2 + ["list"] * 6)
assert len(KINDS) == 200, len(KINDS)
R.shuffle(KINDS)
SUBJECTS = ["Contract", "Quarterly report", "Meeting notes", "Invoice 4711", "Server migration", "Your ticket",
            "Budget review", "Delivery schedule", "Certificate renewal", "Draft proposal", "Agenda for Monday"]

def size_of(rng):
    # Log-normal around 20 KiB: the median of the message sizes lands near it.
    return int(min(150 * 1024, max(1200, math.exp(rng.gauss(math.log(19 * 1024), 0.65)))))

manifest = []
for i, kind in enumerate(KINDS):
    rng = random.Random("%d-%d" % (20261125, i))  # per message: one change does not shift the rest
    size = size_of(rng)
    subject = rng.choice(SUBJECTS)
    to = "Bob Example <bob@example.net>"
    frm = "%s <%s@%s>" % (rng.choice(NAMES), rng.choice(["alice", "carol", "erin", "frank"]), rng.choice(DOMAINS[:5]))
    extra, rp = [], None
    reply = rng.random() < 0.35
    r = rng.random()
    if r < 0.12:  # privacy relay or forwarder
        fields, extra = relay(rng)
        frm = fields["From"]
        if "Reply-To" in fields:
            extra = ["Reply-To: %s" % fields["Reply-To"]] + extra
    elif r < 0.16:
        rp = srs(rng)
    elif r < 0.22:
        to = "Support <support@example.com>"
    elif r < 0.26:
        to = "Help desk <desk@help.example.com>"

    if kind == "plain":
        body = text_part(rng, size)
    elif kind == "html":
        body = text_part(rng, int(size * 0.4), html=True)
    elif kind == "attach":
        body = mixed(rng, [text_part(rng, rng.randint(300, 3000), html=rng.random() < 0.5),
                           attachment(rng, int(size * 0.7))])
    elif kind == "attach-200k":
        body = mixed(rng, [text_part(rng, 1500), attachment(rng, 200 * 1024)])
    elif kind == "attach-2m":
        body = mixed(rng, [text_part(rng, 1500), attachment(rng, 2 * 1024 * 1024)])
    elif kind.startswith("smime-enc"):
        att = {"smime-enc": 0, "smime-enc-200k": 200 * 1024, "smime-enc-2m": 2 * 1024 * 1024}[kind]
        inner = mixed(rng, [text_part(rng, 1500), attachment(rng, att)]) if att else text_part(rng, int(size * 0.7))
        body = smime_encrypt(inner)
    elif kind == "smime-signed":
        body = smime_sign(text_part(rng, size, html=rng.random() < 0.3), i)
    elif kind == "smime-opaque":
        body = smime_sign(text_part(rng, int(size * 0.7)), i, detached=False)
    elif kind == "smime-sign-enc":
        body = smime_encrypt(smime_sign(text_part(rng, int(size * 0.5)), i))
    elif kind.startswith("pgp-mime-enc"):
        if kind.endswith("200k"):
            inner = mixed(rng, [text_part(rng, 1500), attachment(rng, 200 * 1024)])
        else:
            inner = text_part(rng, int(size * 0.6))
        body = pgp_mime_encrypted(inner, i, sign=rng.random() < 0.3)
    elif kind == "pgp-mime-signed":
        body = pgp_mime_signed(text_part(rng, size), i)
    elif kind == "pgp-inline-enc":
        body = "Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\n" + \
            pgp_encrypt(text_of(rng, int(size * 0.6)))
    elif kind == "pgp-inline-signed":
        signed = gpg("--clearsign", "-u", "alice@example.org", stdin=text_of(rng, size).encode()).decode()
        body = "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n" + signed
    elif kind == "enc-attachment":
        data = gpg("-e", "-r", "bob@example.net", stdin=rng.randbytes(int(size * 0.6)))
        body = mixed(rng, [text_part(rng, 800), attachment(rng, 0, name="report.pdf.gpg",
                                                          ctype="application/octet-stream", data=data)])
    elif kind in ("fwd-smime", "fwd-pgp"):
        inner_hdr = ("From: Carol Example <carol@example.com>\nTo: Alice Example <alice@example.org>\n"
                     "Subject: %s\nDate: %s\nMessage-ID: <load-inner-%03d@example.com>\nMIME-Version: 1.0\n"
                     % (subject, date(i + 1), i))
        if kind == "fwd-smime":
            enc = smime_encrypt(text_part(rng, int(size * 0.5)))
        else:
            enc = pgp_mime_encrypted(text_part(rng, int(size * 0.5)), i)
        body = mixed(rng, [text_part(rng, 400),
                           'Content-Type: message/rfc822\nContent-Disposition: attachment; filename="forwarded.eml"\n\n'
                           + inner_hdr + enc])
        subject = "Fwd: " + subject
    elif kind == "bounce":
        rp = ""
        frm = "Mail Delivery System <MAILER-DAEMON@mx.example.org>"
        subject = "Undelivered Mail Returned to Sender"
        b = "bounce-%03d" % i
        body = ('Content-Type: multipart/report; report-type=delivery-status; boundary="%s"\n\n--%s\n'
                'Content-Description: Notification\nContent-Type: text/plain; charset=us-ascii\n\n'
                'This is the mail system at host mx.example.org.\n\nI\'m sorry to have to inform you that your '
                'message could not\nbe delivered to one or more recipients.\n\n--%s\n'
                'Content-Description: Delivery report\nContent-Type: message/delivery-status\n\n'
                'Reporting-MTA: dns; mx.example.org\n\nFinal-Recipient: rfc822; nobody@example.org\n'
                'Action: failed\nStatus: 5.1.1\n\n--%s\nContent-Description: Undelivered Message Headers\n'
                'Content-Type: text/rfc822-headers\n\nFrom: Bob Example <bob@example.net>\nTo: nobody@example.org\n'
                'Subject: %s\n\n--%s--\n' % (b, b, b, b, subject, b))
    elif kind == "probe":
        frm, to, rp = "Monitoring <probe@monitoring.example.com>", "support@example.com", "probe@monitoring.example.com"
        subject = "probe %03d" % i
        body = text_part(rng, 300)
    elif kind == "list":
        extra += ["List-Id: Team <team.lists.example.org>", "List-Unsubscribe: <mailto:team-leave@lists.example.org>",
                  "Precedence: list", "Sender: team-bounces@lists.example.org"]
        body = text_part(rng, size, html=rng.random() < 0.5)
    else:
        sys.exit("gen.sh: unknown kind " + kind)

    msg = header_block(rng, i, kind, subject, to, frm, extra, rp, reply and kind not in ("bounce", "probe")) + body
    name = "%03d-%s.eml" % (i, kind)
    with open(os.path.join(OUT, name), "w", encoding="utf-8", newline="\n") as f:
        f.write(msg)
    manifest.append((name, kind, os.path.getsize(os.path.join(OUT, name))))

# One 50 MiB message: a text part and an attachment sized so the file is 50 MiB.
TARGET = 50 * 1024 * 1024
rng = random.Random("20261125-huge")
head = header_block(rng, 999, "huge", "Scans of the archive", "Bob Example <bob@example.net>",
                    "Alice Example <alice@example.org>", [], None, False)
text = text_part(rng, 2000)
# base64 lines of 76 characters plus LF carry 57 bytes each: 77 file bytes per 57.
raw = (TARGET - len(head) - len(text) - 600) * 57 // 77
huge = head + mixed(rng, [text, attachment(rng, raw, name="archive-scans.zip", ctype="application/zip")])
with open(os.path.join(OUT, "big", "huge-50mib.eml"), "w", newline="\n") as f:
    f.write(huge)
manifest.append(("big/huge-50mib.eml", "huge", os.path.getsize(os.path.join(OUT, "big", "huge-50mib.eml"))))

with open(os.path.join(OUT, "MANIFEST.tsv"), "w") as f:
    f.write("name\tkind\tbytes\n")
    for m in manifest:
        f.write("%s\t%s\t%d\n" % m)
sizes = sorted(m[2] for m in manifest if m[1] != "huge")
print("gen.sh: %s: %d messages, %.1f MiB, median %.1f KiB, largest %.1f MiB; big/huge-50mib.eml %.1f MiB; %.1f s"
      % (OUT, len(sizes), sum(sizes) / 2**20, sizes[len(sizes) // 2] / 1024, sizes[-1] / 2**20,
         manifest[-1][2] / 2**20, time.time() - T0))
PY
