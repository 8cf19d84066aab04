//! `sipedge parse`: a JSON summary of what the codec sees in a message.

use bytes::{Bytes, BytesMut};
use serde_json::{json, Map, Value};
use sip_wire::{
    frame_stream, parse_stream, Auth, Contact, Frame, HeaderName, Host, Message, NameAddr, Params,
    StreamEvent, Uri, Via, ViewError,
};

use crate::cli::Transport;

/// Parses `bytes` and returns the JSON summary and whether the message was accepted.
pub(crate) fn inspect(bytes: Vec<u8>, transport: Transport) -> (Value, bool) {
    let parsed = match transport {
        Transport::Datagram => Message::parse_datagram(Bytes::from(bytes)).map(|m| (m, 0)),
        Transport::Stream => match stream_message(bytes) {
            Ok(Some(r)) => Ok(r),
            Ok(None) => {
                return (
                    json!({"error": {"status": null, "action": "wait",
                        "reason": "incomplete message: a stream receiver waits for more octets"}}),
                    false,
                )
            }
            Err(e) => Err(e),
        },
    };
    match parsed {
        Err(e) => (error(e.status(), &e.to_string()), false),
        Ok((m, trailing)) => match m.validate() {
            Err(inv) => (error(inv.status(), &inv.to_string()), false),
            Ok(()) => {
                let mut v = summary(&m);
                if trailing > 0 {
                    v["trailing_octets"] = json!(trailing);
                }
                (v, true)
            }
        },
    }
}

/// Frames the first message on a stream (skipping CRLF keep-alives before it); returns the
/// message and how many octets followed it.
fn stream_message(bytes: Vec<u8>) -> Result<Option<(Message, usize)>, sip_wire::ParseError> {
    let mut buf = BytesMut::from(&bytes[..]);
    loop {
        if let Frame::Partial = frame_stream(&buf)? {
            return Ok(None);
        }
        match parse_stream(&mut buf)? {
            StreamEvent::Ping | StreamEvent::Pong => continue,
            StreamEvent::Partial => return Ok(None),
            StreamEvent::Message(m) => return Ok(Some((m, buf.len()))),
        }
    }
}

fn error(status: Option<u16>, reason: &str) -> Value {
    match status {
        Some(s) => json!({"error": {"status": s, "reason": reason}}),
        None => json!({"error": {"status": null, "action": "drop", "reason": reason}}),
    }
}

/// Octets as a JSON string: UTF-8 as is, any other octet as `\xNN` (never silently replaced).
fn text(b: &[u8]) -> Value {
    let mut s = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        s.push_str(chunk.valid());
        for byte in chunk.invalid() {
            s.push_str(&format!("\\x{byte:02X}"));
        }
    }
    Value::String(s)
}

fn opt_text(b: Option<&[u8]>) -> Value {
    b.map_or(Value::Null, text)
}

fn view<T>(r: Result<T, ViewError>, f: impl FnOnce(T) -> Value) -> Value {
    match r {
        Ok(v) => f(v),
        Err(e) => json!({"error": e.to_string()}),
    }
}

fn params(p: Params<'_>) -> Value {
    Value::Array(
        p.iter()
            .map(|p| json!({"name": text(p.name), "value": opt_text(p.value)}))
            .collect(),
    )
}

fn host(h: &Host<'_>, raw: &[u8]) -> (Value, &'static str) {
    let kind = match h {
        Host::Domain(_) => "domain",
        Host::Ipv4(_) => "ipv4",
        Host::Ipv6(_) => "ipv6",
    };
    (text(raw), kind)
}

fn uri(u: &Uri<'_>) -> Value {
    match u {
        Uri::Sip(s) => {
            let (h, kind) = host(&s.host, s.host_raw);
            let mut o = json!({
                "scheme": if s.secure { "sips" } else { "sip" },
                "user": s.user.map_or(Value::Null, |e| text(e.raw())),
                "host": h,
                "host_kind": kind,
                "port": s.port,
                "params": Value::Array(s.params().map(|(n, v)| json!({"name": text(n.raw()), "value": v.map_or(Value::Null, |v| text(v.raw()))})).collect()),
                "headers": opt_text(s.headers()),
            });
            if let Some(user) = s.user {
                let decoded = user.decode();
                if decoded.as_ref() != user.raw() {
                    o["user_decoded"] = text(&decoded);
                }
            }
            if s.password.is_some() {
                o["password"] = json!("(present)");
            }
            o
        }
        Uri::Tel(t) => json!({
            "scheme": "tel",
            "number": text(t.number),
            "params": Value::Array(t.params().map(|(n, v)| json!({"name": text(n.raw()), "value": v.map_or(Value::Null, |v| text(v.raw()))})).collect()),
        }),
        Uri::Other { scheme, rest } => json!({"scheme": text(scheme), "opaque": text(rest)}),
    }
}

fn name_addr(a: NameAddr<'_>) -> Value {
    json!({
        "display": opt_text(a.display),
        "uri": view(a.uri(), |u| uri(&u)),
        "tag": opt_text(a.tag()),
        "params": params(a.params),
    })
}

fn via(v: Via<'_>) -> Value {
    let (h, kind) = host(&v.host, v.host_raw);
    json!({
        "protocol": format!("{}/{}/{}", String::from_utf8_lossy(v.protocol), String::from_utf8_lossy(v.version), String::from_utf8_lossy(v.transport)),
        "transport": text(v.transport),
        "host": h,
        "host_kind": kind,
        "port": v.port,
        "branch": opt_text(v.branch()),
        "received": opt_text(v.received()),
        "rport": match v.rport() { None => Value::Null, Some(None) => json!(true), Some(Some(p)) => json!(p) },
        "params": params(v.params),
    })
}

fn auth(header: HeaderName, a: Auth<'_>) -> Value {
    let mut p = Map::new();
    for (n, v) in a.params() {
        p.insert(
            String::from_utf8_lossy(n).to_ascii_lowercase(),
            text(v.unquoted()),
        );
    }
    let mut o = json!({"header": header.as_str(), "scheme": text(a.scheme), "params": p});
    if let Some(t) = a.token68() {
        o["token68"] = text(t);
    }
    o
}

fn summary(m: &Message) -> Value {
    let mut o = Map::new();
    if m.is_request() {
        o.insert("kind".into(), json!("request"));
        o.insert("method".into(), opt_text(m.method().map(|x| x.as_bytes())));
        o.insert(
            "request_uri".into(),
            m.request_uri()
                .map_or(Value::Null, |r| view(r, |u| uri(&u))),
        );
    } else {
        o.insert("kind".into(), json!("response"));
        o.insert("status".into(), json!(m.status()));
        o.insert("reason".into(), opt_text(m.reason()));
    }
    o.insert("version".into(), text(m.version()));
    o.insert(
        "via".into(),
        Value::Array(m.vias().map(|r| view(r, via)).collect()),
    );
    o.insert(
        "from".into(),
        m.from().map_or(Value::Null, |r| view(r, name_addr)),
    );
    o.insert(
        "to".into(),
        m.to().map_or(Value::Null, |r| view(r, name_addr)),
    );
    o.insert("call_id".into(), opt_text(m.call_id()));
    o.insert(
        "cseq".into(),
        m.cseq().map_or(Value::Null, |r| {
            view(
                r,
                |c| json!({"seq": c.seq, "method": text(c.method.as_bytes())}),
            )
        }),
    );
    o.insert(
        "contact".into(),
        Value::Array(
            m.contacts()
                .map(|r| {
                    view(r, |c| match c {
                        Contact::Star => json!("*"),
                        Contact::Addr(a) => name_addr(a),
                    })
                })
                .collect(),
        ),
    );
    o.insert(
        "route".into(),
        Value::Array(m.routes().map(|r| view(r, name_addr)).collect()),
    );
    o.insert(
        "record_route".into(),
        Value::Array(m.record_routes().map(|r| view(r, name_addr)).collect()),
    );
    o.insert(
        "path".into(),
        Value::Array(m.paths().map(|r| view(r, name_addr)).collect()),
    );
    o.insert(
        "max_forwards".into(),
        m.max_forwards()
            .map_or(Value::Null, |r| view(r, |n| json!(n))),
    );
    o.insert(
        "expires".into(),
        m.expires().map_or(Value::Null, |r| view(r, |n| json!(n))),
    );
    let auths: Vec<Value> = [
        HeaderName::Authorization,
        HeaderName::ProxyAuthorization,
        HeaderName::WwwAuthenticate,
        HeaderName::ProxyAuthenticate,
    ]
    .into_iter()
    .flat_map(|h| m.auths(h).map(move |r| view(r, |a| auth(h, a))))
    .collect();
    o.insert("auth".into(), Value::Array(auths));
    for (key, h) in [
        ("supported", HeaderName::Supported),
        ("require", HeaderName::Require),
        ("proxy_require", HeaderName::ProxyRequire),
    ] {
        o.insert(
            key.into(),
            Value::Array(m.option_tags(h).map(|r| view(r, text)).collect()),
        );
    }
    o.insert("content_length".into(), json!(m.content_length()));
    o.insert("body_length".into(), json!(m.body().len()));
    o.insert(
        "other_headers".into(),
        Value::Array(
            m.headers()
                .filter(|h| h.name == HeaderName::Other)
                .map(|h| json!({"name": text(h.raw_name), "value": text(h.value)}))
                .collect(),
        ),
    );
    o.insert(
        "tolerated".into(),
        Value::Array(m.tolerated().names().map(|n| json!(n)).collect()),
    );
    Value::Object(o)
}
