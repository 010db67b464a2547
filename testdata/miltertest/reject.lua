-- Encrypted mail to the help desk is refused with the rule's reply; a
-- tempfail rule gives 451; quarantine holds the message.
dofile(dir .. "/lib.lua")
local conn = open()
local smime = readfile("../messages/smime-encrypted-openssl-cms.eml")
local head, body = smime:match("^(.-)\r?\n\r?\n(.*)$")
local headers = {}
for name, value in head:gsub("\r?\n[ \t]+", " "):gmatch("([^:\r\n]+):[ \t]*([^\r\n]*)") do
  table.insert(headers, {name, value})
end
message(conn, "<alice@example.org>", {"<support@example.com>"}, headers, body)
check(mt.getreply(conn) == SMFIR_REPLYCODE, "refused with a reply code")
check(mt.eom_check(conn, MT_SMTPREPLY, "550", "5.7.1", "Our help desk cannot read encrypted mail; please resend it unencrypted"), "the rule's 550 5.7.1 text")
check(not mt.eom_check(conn, MT_HDRADD), "no header added to a refused message")

message(conn, "<partner@partner.example.net>", {"<support@example.com>"}, {{"Subject", "plain"}}, "x\r\n")
check(mt.getreply(conn) == SMFIR_REPLYCODE, "tempfail with a reply code")
check(mt.eom_check(conn, MT_SMTPREPLY, "451", "4.7.1", "Mail from partner.example.net must arrive over TLS"), "451 4.7.1 text")

message(conn, "<alice@example.org>", {"<hold@example.com>"}, {{"Subject", "hold me"}}, "x\r\n")
check(mt.getreply(conn) == SMFIR_CONTINUE, "quarantined message is accepted")
check(mt.eom_check(conn, MT_QUARANTINE, "sealtag rule hold"), "quarantine with the rule as reason")
check(mt.eom_check(conn, MT_HDRADD, "X-Sealtag-Policy", "quarantine; rule=hold"), "X-Sealtag-Policy: quarantine")
finish(conn)
