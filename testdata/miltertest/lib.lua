-- Shared helpers for sealtag's miltertest scripts. Run by milter/miltertest_test.go:
--   miltertest -D socket=unix:/path/sealtag.sock -D dir=testdata/miltertest -s case.lua
-- A Lua error() makes miltertest exit 1 without a word (NOTES §6), so every
-- check prints what it saw and failures are counted and reported at the end.

failures = 0

function check(ok, what)
  if ok then
    mt.echo("ok   " .. what)
  else
    mt.echo("FAIL " .. what)
    failures = failures + 1
  end
end

-- expect a milter reply to a step, e.g. step(mt.helo(conn, "x"), conn, "helo")
function step(err, conn, what)
  if err ~= nil then
    check(false, what .. ": " .. tostring(err))
  else
    check(mt.getreply(conn) == SMFIR_CONTINUE, what .. " continues")
  end
end

function open(helo_macros)
  local conn = mt.connect(socket, 5, 0.2)
  if conn == nil then
    mt.echo("FAIL cannot connect to " .. tostring(socket))
    os.exit(1)
  end
  mt.macro(conn, SMFIC_CONNECT, "j", "mx.example.org", "{daemon_name}", "smtpd")
  step(mt.conninfo(conn, "client.example.net", "192.0.2.10"), conn, "connect")
  if helo_macros ~= nil then
    mt.macro(conn, SMFIC_HELO, table.unpack(helo_macros))
  end
  step(mt.helo(conn, "client.example.net"), conn, "helo")
  return conn
end

-- send a message: envelope, header fields (list of {name, value}), body
function message(conn, from, rcpts, headers, body)
  mt.macro(conn, SMFIC_MAIL, "i", "MT" .. tostring(math.random(1000, 9999)))
  step(mt.mailfrom(conn, from), conn, "mail from")
  for _, r in ipairs(rcpts) do
    step(mt.rcptto(conn, r), conn, "rcpt to " .. r)
  end
  for _, h in ipairs(headers) do
    step(mt.header(conn, h[1], h[2]), conn, "header " .. h[1])
  end
  step(mt.eoh(conn), conn, "end of header")
  step(mt.bodystring(conn, body), conn, "body")
  local err = mt.eom(conn)
  check(err == nil, "end of message " .. tostring(err))
end

function readfile(name)
  local f = assert(io.open(dir .. "/" .. name, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

function finish(conn)
  mt.disconnect(conn)
  if failures > 0 then
    mt.echo(failures .. " check(s) failed")
    os.exit(1)
  end
  mt.echo("all checks passed")
end
