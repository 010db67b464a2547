#!/usr/bin/env python3
"""Check generated messages with the crypto tools themselves.

Usage: verify.py DIR [FILE.eml ...]   (all *.eml in DIR when no file is named)

Walks every MIME part (into message/rfc822 and into GpgOL's *.mime attachment), decodes it
and reports what the tools see:
  DER blobs      -> `openssl cms -cmsout -print -inform DER`: contentType name and OID
  armor blocks   -> `gpg --list-packets`: tag and name of the first OpenPGP packet
                    (only armor lines at the start of a decoded line; HTML: <br> -> newline,
                    tags removed)
  binary OpenPGP -> `gpg --list-packets`
  PDF            -> `qpdf --show-encryption` (user password "secret")
  ZIP            -> encryption flag of each member
  CFB / OLE2     -> stream names (own reader in helpers.py)
Prints one tab-separated row per finding: file, part path, content type, finding.
Set GNUPGHOME to gen.sh's key ring to let gpg decrypt (it then also lists inner packets, but
only the first packet is reported). Standard library only.
"""
import email
import html
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ inside testdata/gen
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import helpers  # noqa: E402

ARMOR_RE = re.compile(rb"^-----BEGIN PGP ([A-Z ]+)-----\r?$", re.M)


def run(cmd, data):
    p = subprocess.run(cmd, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def cms_info(data):
    rc, out, err = run(["openssl", "cms", "-cmsout", "-print", "-inform", "DER"], data)
    if rc != 0:
        return "DER, openssl cms cannot parse: " + err.strip().splitlines()[0]
    m = re.search(r"contentType: (\S+) \(([\d.]+)\)", out)
    desc = "CMS %s (%s)" % (m.group(1), m.group(2)) if m else "CMS ?"
    if "signedData" in desc:
        econtent = re.search(r"eContent: <ABSENT>", out) is None
        signers = re.search(r"signerInfos:\s*\n\s*<EMPTY>", out) is None
        desc += ", eContent %s, signers %s" % ("present" if econtent else "absent",
                                               "present" if signers else "none")
    first = data[:2]
    if first == b"\x30\x80":
        desc += ", BER indefinite length"
    return desc


def pgp_first_packet(data):
    cmd = ["gpg", "--batch", "--no-tty", "--pinentry-mode", "loopback", "--passphrase", "secret",
           "--list-packets"]
    rc, out, err = run(cmd, data)
    m = re.search(r"^# off=0 ctb=\w+ tag=(\d+).*\n:([^:]+):", out, re.M)
    if m:
        return "OpenPGP first packet tag=%s (%s)" % (m.group(1), m.group(2).strip())
    if ":signature packet:" in out or ":literal data packet:" in out:
        return "OpenPGP " + out.splitlines()[0]
    return "OpenPGP: gpg lists no packet (%s)" % (err.strip().splitlines() or ["?"])[-1]


def armor_blocks(text):
    out = []
    inside_until = -1
    for m in ARMOR_RE.finditer(text):
        if m.start() < inside_until:
            continue  # the SIGNATURE block that closes a clearsigned message
        kind = m.group(1).decode()
        end = text.find(b"-----END PGP " + m.group(1) + b"-----", m.end())
        if kind == "SIGNED MESSAGE":
            end = text.find(b"-----END PGP SIGNATURE-----", m.end())
            inside_until = end
            out.append((kind, text[m.start():end + 27] if end >= 0 else b""))
        else:
            out.append((kind, text[m.start():end + len(m.group(1)) + 18] if end >= 0 else b""))
    return out


def html_text(data):
    s = data.decode("utf-8", "replace")
    s = re.sub(r"(?i)<br\s*/?>", "\n", s)
    s = re.sub(r"(?i)</?(p|div|pre)\b[^>]*>", "\n", s)
    s = re.sub(r"<[^>]+>", "", s)
    return html.unescape(s).encode()


def leaf(path, part, rows, fname):
    ct = part.get_content_type()
    fn = part.get_filename() or ""
    data = part.get_payload(decode=True) or b""
    label = ct + ("; " + fn if fn else "")

    def add(finding):
        rows.append((fname, path, label, finding))

    if fn.endswith(".mime"):
        walk(email.message_from_bytes(data), path + "(.mime)", rows, fname)
        return
    if data[:1] == b"\x30" and (ct.endswith("pkcs7-mime") or ct == "application/octet-stream"
                                or fn.endswith((".p7m", ".p7c")) or ct.endswith("pkcs7-signature")):
        add(cms_info(data))
        return
    if data[:4] == b"%PDF":
        import tempfile
        with tempfile.NamedTemporaryFile(suffix=".pdf") as t:
            t.write(data)
            t.flush()
            rc, out, err = run(["qpdf", "--password=secret", "--show-encryption", t.name], b"")
        lines = [l.strip() for l in out.splitlines() if l.strip()]
        enc = [l for l in lines if l.startswith(("R =", "V =", "stream encryption method",
                                                  "File is not encrypted"))]
        add("PDF: " + "; ".join(enc or lines[:1]))
        return
    if data[:4] == b"PK\x03\x04":
        import io
        import zipfile
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            add("ZIP: " + ", ".join("%s %s" % (i.filename, "encrypted" if i.flag_bits & 1 else "plain")
                                    for i in z.infolist()))
        return
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        import tempfile
        with tempfile.NamedTemporaryFile() as t:
            t.write(data)
            t.flush()
            streams = [n for n, typ, _ in helpers.cfb_list(t.name) if typ == "stream"]
        add("CFB streams: " + ", ".join(streams))
        return
    if data[:1] and data[0] & 0x80 and fn.endswith((".gpg", ".pgp")):
        add(pgp_first_packet(data))
        return
    text = html_text(data) if ct == "text/html" else data
    if ct.startswith("text/") or fn.endswith(".asc") or ct in ("application/octet-stream",
                                                                 "application/pgp-keys",
                                                                 "application/pgp-signature"):
        for kind, block in armor_blocks(text):
            if kind == "SIGNED MESSAGE":
                rc, out, err = run(["gpg", "--batch", "--no-tty", "--verify"], block)
                add("armor SIGNED MESSAGE (clearsigned), gpg --verify rc=%d" % rc)
            else:
                add("armor %s: %s" % (kind, pgp_first_packet(block)))
    if ct == "application/pgp-encrypted":
        add("application/pgp-encrypted control part: %r" % data.strip()[:20])


def walk(msg, path, rows, fname):
    if msg.is_multipart():
        for i, p in enumerate(msg.get_payload(), 1):
            walk(p, "%s.%d" % (path, i) if path else str(i), rows, fname)
    elif msg.get_content_type() == "message/rfc822":
        inner = msg.get_payload()
        inner = inner[0] if isinstance(inner, list) else inner
        walk(inner, (path or "0") + ".rfc822", rows, fname)
    else:
        leaf(path or "0", msg, rows, fname)


def main():
    tmp_home = None
    if "GNUPGHOME" not in os.environ:
        import tempfile
        tmp_home = tempfile.mkdtemp(prefix="sealtag-verify.")
        os.environ["GNUPGHOME"] = tmp_home  # never touch the caller's ~/.gnupg
    try:
        verify(sys.argv[1], sys.argv[2:])
    finally:
        if tmp_home:
            subprocess.run(["gpgconf", "--homedir", tmp_home, "--kill", "all"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            import shutil
            shutil.rmtree(tmp_home, ignore_errors=True)


def verify(d, files):
    files = files or sorted(f for f in os.listdir(d) if f.endswith(".eml"))
    sys.setrecursionlimit(10000)
    for f in files:
        with open(os.path.join(d, f), "rb") as fh:
            msg = email.message_from_binary_file(fh)
        rows = []
        walk(msg, "", rows, f)
        if not rows:
            rows.append((f, "-", msg.get_content_type(), "no crypto structure"))
        for r in rows:
            print("\t".join(r))


if __name__ == "__main__":
    main()
