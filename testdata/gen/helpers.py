#!/usr/bin/env python3
"""Byte-level helpers for gen.sh (Python standard library only).

Subcommands (all write to stdout unless an output path is given):
  qp                       quoted-printable encode stdin (RFC 2045, soft breaks at 76)
  pdf OUT [--flate] [--text T]  write a minimal, valid one-page PDF 1.4
  docx OUT                 write a minimal unencrypted WordprocessingML package (zip)
  cfb OUT NAME=FILE...     write an OLE2 / Compound File Binary (v3) with the given root-level streams
  ooxml-encrypted OUT      write a CFB holding EncryptionInfo (agile 4.4 descriptor with random
                           salts/keys) and EncryptedPackage (size prefix + random ciphertext)
  doc97 OUT                write a CFB with a zeroed "WordDocument" stream (FIB magic 0xA5EC,
                           fEncrypted bit clear): a legacy Word file that is NOT encrypted
  cfb-list FILE            list the streams of a compound file (own reader, checks the writer)
  zipinfo FILE             print each member's name and whether its encryption flag is set
"""
import base64
import io
import os
import quopri
import struct
import sys
import zipfile
import zlib

FIXED_ZIP_DATE = (2026, 11, 25, 10, 10, 10)

# ---------------------------------------------------------------- quoted-printable


def cmd_qp(args):
    data = sys.stdin.buffer.read()
    sys.stdout.buffer.write(quopri.encodestring(data))


# ---------------------------------------------------------------- PDF


def make_pdf(text, flate):
    content = ("BT /F1 12 Tf 72 720 Td (%s) Tj ET\n" % text).encode("latin-1")
    if flate:
        body = zlib.compress(content, 9)
        stream_dict = b"<< /Length %d /Filter /FlateDecode >>" % len(body)
    else:
        body = content
        stream_dict = b"<< /Length %d >>" % len(body)
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        stream_dict + b"\nstream\n" + body + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Title (Sealtag test document) /Producer (sealtag testdata/gen/helpers.py) >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + o + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n" % (len(objs) + 1))
    out.write(b"0000000000 65535 f \n")
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objs) + 1, xref))
    return out.getvalue()


def cmd_pdf(args):
    out = args[0]
    flate = "--flate" in args
    text = "Quarterly report: nothing secret here."
    if "--text" in args:
        text = args[args.index("--text") + 1]
    with open(out, "wb") as f:
        f.write(make_pdf(text, flate))


# ---------------------------------------------------------------- docx (plain)

DOCX_FILES = [
    ("[Content_Types].xml",
     '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
     '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
     '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
     '<Default Extension="xml" ContentType="application/xml"/>'
     '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
     'officedocument.wordprocessingml.document.main+xml"/></Types>'),
    ("_rels/.rels",
     '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
     '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
     '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
     'relationships/officeDocument" Target="word/document.xml"/></Relationships>'),
    ("word/document.xml",
     '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
     '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
     '<w:body><w:p><w:r><w:t>Minutes of the meeting. Nothing encrypted here.</w:t></w:r></w:p>'
     '</w:body></w:document>'),
]


def cmd_docx(args):
    with zipfile.ZipFile(args[0], "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in DOCX_FILES:
            zi = zipfile.ZipInfo(name, FIXED_ZIP_DATE)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            z.writestr(zi, text)


# ---------------------------------------------------------------- CFB writer (MS-CFB v3)

SECT = 512
MINI = 64
CUTOFF = 4096
FREESECT, ENDOFCHAIN, FATSECT = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
NOSTREAM = 0xFFFFFFFF


def _cfb_key(name):
    # MS-CFB 2.6.4: shorter names sort first, then upper-cased UTF-16 code units.
    return (len(name), name.upper())


def _dir_entry(name, typ, color, left, right, child, start, size):
    raw = name.encode("utf-16-le") + b"\0\0" if name else b""
    e = raw.ljust(64, b"\0")
    e += struct.pack("<HBBIII", len(raw), typ, color, left, right, child)
    e += b"\0" * 16 + b"\0" * 4 + b"\0" * 16  # CLSID, state bits, times
    e += struct.pack("<IQ", start, size)
    assert len(e) == 128
    return e


def write_cfb(path, streams):
    """streams: list of (name, bytes) placed directly under the root storage."""
    # Mini stream: every stream below the cutoff, in 64-byte mini sectors.
    mini = bytearray()
    minifat = []
    big = []
    placed = {}
    for name, data in streams:
        if len(data) < CUTOFF:
            n = max(1, -(-len(data) // MINI))
            start = len(minifat)
            minifat += [start + i + 1 for i in range(n - 1)] + [ENDOFCHAIN]
            mini += data.ljust(n * MINI, b"\0")
            placed[name] = ("mini", start, len(data))
        else:
            big.append((name, data))
    sectors = []  # list of 512-byte payloads, index = sector number
    fat = {}

    def alloc(data):
        n = max(1, -(-len(data) // SECT))
        first = len(sectors)
        for i in range(n):
            sectors.append(bytes(data[i * SECT:(i + 1) * SECT]).ljust(SECT, b"\0"))
            fat[first + i] = first + i + 1 if i < n - 1 else ENDOFCHAIN
        return first

    for name, data in big:
        placed[name] = ("big", alloc(data), len(data))
    mini_start = alloc(mini) if mini else ENDOFCHAIN
    if minifat:
        mf = b"".join(struct.pack("<I", x) for x in minifat)
        mf = mf.ljust(-(-len(mf) // SECT) * SECT, b"\xff")
        minifat_start, minifat_count = alloc(mf), len(mf) // SECT
    else:
        minifat_start, minifat_count = ENDOFCHAIN, 0

    # Directory: root (id 0) + streams (ids 1..n) arranged as a balanced binary tree.
    names = [n for n, _ in streams]
    order = sorted(range(len(names)), key=lambda i: _cfb_key(names[i]))
    left = {}
    right = {}

    def build(lo, hi):
        if lo > hi:
            return NOSTREAM
        mid = (lo + hi) // 2
        node = order[mid] + 1
        left[node] = build(lo, mid - 1)
        right[node] = build(mid + 1, hi)
        return node

    top = build(0, len(order) - 1)
    entries = [_dir_entry("Root Entry", 5, 1, NOSTREAM, NOSTREAM, top,
                          mini_start, len(mini))]
    for i, name in enumerate(names, 1):
        kind, start, size = placed[name]
        # Non-root nodes red when they are leaves under a black parent: keeps red-black rules
        # for the small trees written here.
        color = 0 if (left[i] == NOSTREAM and right[i] == NOSTREAM and i != top) else 1
        entries.append(_dir_entry(name, 2, color, left[i], right[i], NOSTREAM, start, size))
    while len(entries) % 4:
        entries.append(_dir_entry("", 0, 0, NOSTREAM, NOSTREAM, NOSTREAM, 0, 0))
    dir_start = alloc(b"".join(entries))

    # FAT sectors: enough to map every sector including themselves.
    nfat = 1
    while (len(sectors) + nfat) > nfat * (SECT // 4):
        nfat += 1
    assert nfat <= 109, "DIFAT sectors not supported"
    fat_first = len(sectors)
    for i in range(nfat):
        fat[fat_first + i] = FATSECT
    total = len(sectors) + nfat
    fatbytes = b"".join(struct.pack("<I", fat.get(i, FREESECT)) for i in range(nfat * SECT // 4))
    for i in range(nfat):
        sectors.append(fatbytes[i * SECT:(i + 1) * SECT])
    assert len(sectors) == total

    hdr = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 16
    hdr += struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\0" * 6
    hdr += struct.pack("<IIIIIIIII", 0, nfat, dir_start, 0, CUTOFF,
                       minifat_start, minifat_count, ENDOFCHAIN, 0)
    difat = [fat_first + i for i in range(nfat)] + [FREESECT] * (109 - nfat)
    hdr += b"".join(struct.pack("<I", x) for x in difat)
    assert len(hdr) == SECT
    with open(path, "wb") as f:
        f.write(hdr)
        for s in sectors:
            f.write(s)


def cmd_cfb(args):
    streams = []
    for spec in args[1:]:
        name, fn = spec.split("=", 1)
        with open(fn, "rb") as f:
            streams.append((name, f.read()))
    write_cfb(args[0], streams)


def _b64r(n):
    return base64.b64encode(os.urandom(n)).decode()


def cmd_ooxml_encrypted(args):
    # ECMA-376 agile encryption, [MS-OFFCRYPTO] 2.3.4.10: version 4.4, reserved 0x40, XML.
    # No AES in the standard library: salts, keys and ciphertext are random bytes of the
    # right sizes, so the container is structurally real but cannot be decrypted.
    xml = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
        '<encryption xmlns="http://schemas.microsoft.com/office/2006/encryption" '
        'xmlns:p="http://schemas.microsoft.com/office/2006/keyEncryptor/password" '
        'xmlns:c="http://schemas.microsoft.com/office/2006/keyEncryptor/certificate">'
        '<keyData saltSize="16" blockSize="16" keyBits="256" hashSize="64" cipherAlgorithm="AES" '
        'cipherChaining="ChainingModeCBC" hashAlgorithm="SHA512" saltValue="%s"/>'
        '<dataIntegrity encryptedHmacKey="%s" encryptedHmacValue="%s"/>'
        '<keyEncryptors><keyEncryptor uri="http://schemas.microsoft.com/office/2006/keyEncryptor/password">'
        '<p:encryptedKey spinCount="100000" saltSize="16" blockSize="16" keyBits="256" hashSize="64" '
        'cipherAlgorithm="AES" cipherChaining="ChainingModeCBC" hashAlgorithm="SHA512" saltValue="%s" '
        'encryptedVerifierHashInput="%s" encryptedVerifierHashValue="%s" encryptedKeyValue="%s"/>'
        '</keyEncryptor></keyEncryptors></encryption>'
        % (_b64r(16), _b64r(64), _b64r(64), _b64r(16), _b64r(16), _b64r(64), _b64r(32))
    ).encode()
    info = struct.pack("<HHI", 4, 4, 0x40) + xml
    plain_size = 8472
    package = struct.pack("<Q", plain_size) + os.urandom(-(-plain_size // 16) * 16)
    write_cfb(args[0], [("EncryptionInfo", info), ("EncryptedPackage", package)])


def cmd_doc97(args):
    fib = bytearray(4096)
    struct.pack_into("<HH", fib, 0, 0xA5EC, 0x00C1)  # wIdent, nFib; flags word at 0x0A stays 0
    write_cfb(args[0], [("WordDocument", bytes(fib)), ("1Table", bytes(4096))])


# ---------------------------------------------------------------- CFB reader (for checks)


def cfb_list(path):
    data = open(path, "rb").read()
    if data[:8] != b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise ValueError("not a compound file")
    ssz = 1 << struct.unpack_from("<H", data, 30)[0]
    nfat, dir_start = struct.unpack_from("<II", data, 44)
    difat = struct.unpack_from("<109I", data, 76)[:nfat]

    def sect(i):
        return data[ssz + i * ssz: ssz + (i + 1) * ssz]

    fat = []
    for s in difat:
        fat += struct.unpack("<%dI" % (ssz // 4), sect(s))
    d = b""
    s = dir_start
    while s != ENDOFCHAIN:
        d += sect(s)
        s = fat[s]
    out = []
    for off in range(0, len(d), 128):
        e = d[off:off + 128]
        nlen, typ = struct.unpack_from("<HB", e, 64)
        if typ in (1, 2, 5):
            name = e[:max(0, nlen - 2)].decode("utf-16-le")
            size = struct.unpack_from("<Q", e, 120)[0]
            out.append((name, {1: "storage", 2: "stream", 5: "root"}[typ], size))
    return out


def cmd_cfb_list(args):
    for name, typ, size in cfb_list(args[0]):
        print("%s\t%s\t%d" % (name, typ, size))


def cmd_zipinfo(args):
    with zipfile.ZipFile(args[0]) as z:
        for zi in z.infolist():
            print("%s\t%s" % (zi.filename, "encrypted" if zi.flag_bits & 1 else "plain"))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd = sys.argv[1].replace("-", "_")
    fn = globals().get("cmd_" + cmd)
    if fn is None:
        sys.exit("unknown subcommand " + sys.argv[1])
    fn(sys.argv[2:])


if __name__ == "__main__":
    main()
