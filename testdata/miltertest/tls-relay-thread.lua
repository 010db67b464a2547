-- TLS macros at HELO, a Firefox Relay reply whose thread headers were lost.
dofile(dir .. "/lib.lua")
local conn = open({"{tls_version}", "TLSv1.3", "{cipher}", "TLS_AES_256_GCM_SHA384", "{cipher_bits}", "256"})
message(conn, "<k9x2m@mozmail.com>", {"<support@example.com>"},
  {{"From", "\"bob@example.org [via Relay]\" <k9x2m@mozmail.com>"},
   {"Reply-To", "replies@relay.firefox.com"},
   {"Subject", "Re: my ticket"}},
  "Any news?\r\n")
check(mt.getreply(conn) == SMFIR_CONTINUE, "accepted")
check(mt.eom_check(conn, MT_HDRADD, "X-Sealtag-TLS", "TLSv1.3; cipher=TLS_AES_256_GCM_SHA384; bits=256"), "X-Sealtag-TLS from the HELO macros")
check(mt.eom_check(conn, MT_HDRADD, "X-Sealtag-Relay", "firefox; field=reply-to; role=reply; also=\"firefox:from,firefox:envelope\""), "X-Sealtag-Relay: firefox reply shape")
check(mt.eom_check(conn, MT_HDRADD, "X-Sealtag-Thread", "broken; risk=\"drops-in-reply-to,rewrites-message-id\""), "X-Sealtag-Thread: broken with the relay's risk")
check(mt.eom_check(conn, MT_HDRADD, "X-Sealtag-Policy", "accept; rule=relay-broken"), "policy rule relay-broken")
-- the second message of the connection keeps the TLS state
message(conn, "<alice@example.org>", {"<sales@example.com>"}, {{"Subject", "second"}}, "x\r\n")
check(mt.eom_check(conn, MT_HDRADD, "X-Sealtag-TLS", "TLSv1.3; cipher=TLS_AES_256_GCM_SHA384; bits=256"), "second message still TLS")
finish(conn)
