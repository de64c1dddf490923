//! Just enough RESP2 to talk to a redis-server over a plain `TcpStream`: encode a command,
//! read one reply. testkit checks servers it started (PING, AUTH, CLUSTER INFO/SLOTS)
//! without depending on the `redis` crate, so a bug in the client under test cannot hide
//! behind the same client in the test support.

use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One reply. Error replies (`-ERR ...`) are replies, not I/O errors: a server that
/// answers `-NOAUTH` is up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The text of a status or bulk reply.
    pub(crate) fn text(&self) -> Option<String> {
        match self {
            Reply::Status(s) => Some(s.clone()),
            Reply::Bulk(Some(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }
}

/// One connection to 127.0.0.1:`port`, with a read timeout so a wedged server fails the
/// caller instead of hanging it.
pub(crate) struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    pub(crate) fn connect(port: u16, timeout: Duration) -> io::Result<Conn> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(Conn { reader: BufReader::new(stream) })
    }

    /// Connects and, when `password` is given, authenticates (an `-ERR`/`-WRONGPASS` answer is
    /// an error).
    pub(crate) fn connect_auth(port: u16, timeout: Duration, password: Option<&str>) -> io::Result<Conn> {
        let mut conn = Conn::connect(port, timeout)?;
        if let Some(pw) = password {
            match conn.command(&[b"AUTH", pw.as_bytes()])? {
                Reply::Status(s) if s == "OK" => {}
                other => return Err(io::Error::other(format!("AUTH refused: {other:?}"))),
            }
        }
        Ok(conn)
    }

    /// Sends one command and reads its reply.
    pub(crate) fn command(&mut self, args: &[&[u8]]) -> io::Result<Reply> {
        self.reader.get_mut().write_all(&encode(args))?;
        read_reply(&mut self.reader)
    }
}

/// `args` as a RESP array of bulk strings (binary safe, unlike inline commands).
pub(crate) fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Reads one complete reply; EOF before it is complete is `UnexpectedEof`.
pub(crate) fn read_reply(reader: &mut impl BufRead) -> io::Result<Reply> {
    let line = read_line(reader)?;
    let (kind, rest) = line.split_at(1);
    let rest = String::from_utf8_lossy(rest).into_owned();
    match kind[0] {
        b'+' => Ok(Reply::Status(rest)),
        b'-' => Ok(Reply::Error(rest)),
        b':' => Ok(Reply::Int(parse_int(&rest)?)),
        b'$' => {
            let len = parse_int(&rest)?;
            if len < 0 {
                return Ok(Reply::Bulk(None));
            }
            let mut buf = vec![0; len as usize + 2];
            reader.read_exact(&mut buf)?;
            buf.truncate(len as usize);
            Ok(Reply::Bulk(Some(buf)))
        }
        b'*' => {
            let len = parse_int(&rest)?;
            if len < 0 {
                return Ok(Reply::Array(None));
            }
            (0..len).map(|_| read_reply(reader)).collect::<io::Result<Vec<_>>>().map(|v| Reply::Array(Some(v)))
        }
        other => Err(io::Error::new(io::ErrorKind::InvalidData, format!("unknown RESP type byte {other:#04x}"))),
    }
}

/// A line without its CRLF; never empty (an empty line is not RESP).
fn read_line(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line)?;
    if !line.ends_with(b"\r\n") {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed before a complete RESP line"));
    }
    line.truncate(line.len() - 2);
    if line.is_empty() {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "empty RESP line"));
    }
    Ok(line)
}

fn parse_int(s: &str) -> io::Result<i64> {
    s.parse().map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("bad RESP integer {s:?}")))
}

/// `redis://[:password@]127.0.0.1:PORT`, the password percent-encoded so any password
/// survives URL parsing in the client under test.
pub(crate) fn redis_url(port: u16, password: Option<&str>) -> String {
    match password {
        Some(pw) => format!("redis://:{}@127.0.0.1:{port}", percent_encode(pw)),
        None => format!("redis://127.0.0.1:{port}"),
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_reply_kind() {
        let wire = b"+OK\r\n-ERR no\r\n:42\r\n$3\r\na\r\n\r\n$-1\r\n*2\r\n:1\r\n*1\r\n$1\r\nx\r\n*-1\r\n";
        let mut r = &wire[..];
        assert_eq!(read_reply(&mut r).unwrap(), Reply::Status("OK".into()));
        assert_eq!(read_reply(&mut r).unwrap(), Reply::Error("ERR no".into()));
        assert_eq!(read_reply(&mut r).unwrap(), Reply::Int(42));
        // A bulk string may contain CRLF: its length, not a line end, delimits it.
        assert_eq!(read_reply(&mut r).unwrap(), Reply::Bulk(Some(b"a\r\n".to_vec())));
        assert_eq!(read_reply(&mut r).unwrap(), Reply::Bulk(None));
        assert_eq!(
            read_reply(&mut r).unwrap(),
            Reply::Array(Some(vec![Reply::Int(1), Reply::Array(Some(vec![Reply::Bulk(Some(b"x".to_vec()))]))]))
        );
        assert_eq!(read_reply(&mut r).unwrap(), Reply::Array(None));
        assert_eq!(read_reply(&mut r).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn encodes_binary_safe_commands() {
        assert_eq!(encode(&[b"SET", b"k", b"a b\r\n"]), b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na b\r\n\r\n".to_vec());
    }

    #[test]
    fn url_percent_encodes_the_password() {
        assert_eq!(redis_url(7000, None), "redis://127.0.0.1:7000");
        assert_eq!(redis_url(7000, Some("p w@:/")), "redis://:p%20w%40%3A%2F@127.0.0.1:7000");
    }
}
