# sealtag.sieve — file help-desk mail by sealtag's headers (Dovecot Pigeonhole).
#
# Install: as the mailbox's sieve script (e.g. ~/.dovecot.sieve, or a
# sieve_before script for a shared help-desk mailbox), then `sievec` it.
# sealtag removes any X-Sealtag-* header a sender forged before it adds its
# own, so these headers can be trusted on mail that passed your MTA.
#
# Folders: "Encrypted" for content the agents cannot read, "Private relay"
# for senders behind a relay address (reply to it unchanged). Replies whose
# thread headers were lost get the $BrokenThread flag.

require ["fileinto", "mailbox", "imap4flags"];

# Content the help desk cannot read: the first token of X-Sealtag-Encryption
# is an encrypted class (the parameters after ';' are details).
if header :matches "X-Sealtag-Encryption" [
    "smime-encrypted*", "pgp-encrypted*", "pgp-inline-encrypted*",
    "proprietary-ome*", "proprietary-other*", "encrypted-attachment*"] {
  fileinto :create "Encrypted";
  stop;
}

# A reply whose In-Reply-To/References were lost on the way (often by a
# relay): flag it so an agent merges it into the right ticket.
if header :matches "X-Sealtag-Thread" "broken*" {
  addflag "$BrokenThread";
}

# The sender hides behind a private relay or a rewriting forwarder: the
# address in Reply-To/From is a token that routes the answer back.
if allof (exists "X-Sealtag-Relay",
          not header :matches "X-Sealtag-Relay" "none*") {
  fileinto :create "Private relay";
  stop;
}

# Everything else stays in INBOX (implicit keep).
