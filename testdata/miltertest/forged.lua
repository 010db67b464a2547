-- Forged headers of sealtag's namespace, in several spellings, are removed.
dofile(dir .. "/lib.lua")
local conn = open()
message(conn, "<mallory@example.net>", {"<sales@example.com>"},
  {{"X-Sealtag-Encryption", "none"},
   {"From", "mallory@example.net"},
   {"x-sealtag-policy", "accept; rule=vip"},
   {"X-SEALTAG-POLICY", "accept; rule=vip"},
   {"X-Sealtag-Relay", "none"},
   {"Subject", "trust me"}},
  "-----BEGIN PGP MESSAGE-----\r\n\r\nhF4DAAAAAAAAAAASAQdAzm\r\n-----END PGP MESSAGE-----\r\n")
check(mt.getreply(conn) == SMFIR_CONTINUE, "accepted")
check(mt.eom_check(conn, MT_HDRDELETE, "X-Sealtag-Encryption"), "forged X-Sealtag-Encryption removed")
check(mt.eom_check(conn, MT_HDRDELETE, "x-sealtag-policy") or mt.eom_check(conn, MT_HDRDELETE, "X-SEALTAG-POLICY"), "forged X-Sealtag-Policy removed")
check(mt.eom_check(conn, MT_HDRDELETE, "X-Sealtag-Relay"), "forged X-Sealtag-Relay removed")
check(mt.eom_check(conn, MT_HDRADD, "X-Sealtag-Encryption", "pgp-inline-encrypted; scope=outer"), "true X-Sealtag-Encryption added")
check(mt.eom_check(conn, MT_HDRADD, "X-Sealtag-Policy", "accept; rule=default"), "true X-Sealtag-Policy added")
finish(conn)
