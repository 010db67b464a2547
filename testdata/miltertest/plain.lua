-- A plain message over a session without TLS: accepted, tagged, nothing removed.
dofile(dir .. "/lib.lua")
local conn = open()
check(mt.test_action(conn, SMFIF_ADDHDRS), "negotiated: add headers")
check(mt.test_action(conn, SMFIF_CHGHDRS), "negotiated: change headers")
check(mt.test_option(conn, SMFIP_NOUNKNOWN), "negotiated: no unknown commands")
message(conn, "<alice@example.org>", {"<support@example.com>"},
  {{"From", "Alice <alice@example.org>"}, {"Subject", "Hello"}},
  "Hi there.\r\n")
check(mt.getreply(conn) == SMFIR_CONTINUE, "accepted (continue at end of message)")
check(mt.eom_check(conn, MT_HDRADD, "X-Sealtag-Encryption", "none"), "X-Sealtag-Encryption: none")
check(mt.eom_check(conn, MT_HDRADD, "X-Sealtag-TLS", "none"), "X-Sealtag-TLS: none")
check(mt.eom_check(conn, MT_HDRADD, "X-Sealtag-Relay", "none"), "X-Sealtag-Relay: none")
check(mt.eom_check(conn, MT_HDRADD, "X-Sealtag-Thread", "new"), "X-Sealtag-Thread: new")
check(mt.eom_check(conn, MT_HDRADD, "X-Sealtag-Policy", "accept; rule=default"), "X-Sealtag-Policy: accept; rule=default")
check(not mt.eom_check(conn, MT_HDRCHANGE), "no header changed")
finish(conn)
