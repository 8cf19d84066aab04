//! SIP methods (RFC 3261 §7.1: the method token is case-sensitive).

/// A request method. Methods are compared case-sensitively, so `invite` and `RE%47IST%45R`
/// (RFC 4475 §3.1.1.5) are extension methods, not INVITE and REGISTER.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method<'a> {
    /// INVITE (RFC 3261).
    Invite,
    /// ACK (RFC 3261).
    Ack,
    /// BYE (RFC 3261).
    Bye,
    /// CANCEL (RFC 3261).
    Cancel,
    /// REGISTER (RFC 3261).
    Register,
    /// OPTIONS (RFC 3261).
    Options,
    /// PRACK (RFC 3262).
    Prack,
    /// SUBSCRIBE (RFC 6665).
    Subscribe,
    /// NOTIFY (RFC 6665).
    Notify,
    /// PUBLISH (RFC 3903).
    Publish,
    /// INFO (RFC 6086).
    Info,
    /// REFER (RFC 3515).
    Refer,
    /// MESSAGE (RFC 3428).
    Message,
    /// UPDATE (RFC 3311).
    Update,
    /// Any other token.
    Extension(&'a [u8]),
}

impl<'a> Method<'a> {
    /// Resolves a method token (already checked to be a `token`).
    pub fn from_bytes(m: &'a [u8]) -> Self {
        match m {
            b"INVITE" => Self::Invite,
            b"ACK" => Self::Ack,
            b"BYE" => Self::Bye,
            b"CANCEL" => Self::Cancel,
            b"REGISTER" => Self::Register,
            b"OPTIONS" => Self::Options,
            b"PRACK" => Self::Prack,
            b"SUBSCRIBE" => Self::Subscribe,
            b"NOTIFY" => Self::Notify,
            b"PUBLISH" => Self::Publish,
            b"INFO" => Self::Info,
            b"REFER" => Self::Refer,
            b"MESSAGE" => Self::Message,
            b"UPDATE" => Self::Update,
            other => Self::Extension(other),
        }
    }

    /// The token as written.
    pub fn as_bytes(&self) -> &'a [u8] {
        match self {
            Self::Invite => b"INVITE",
            Self::Ack => b"ACK",
            Self::Bye => b"BYE",
            Self::Cancel => b"CANCEL",
            Self::Register => b"REGISTER",
            Self::Options => b"OPTIONS",
            Self::Prack => b"PRACK",
            Self::Subscribe => b"SUBSCRIBE",
            Self::Notify => b"NOTIFY",
            Self::Publish => b"PUBLISH",
            Self::Info => b"INFO",
            Self::Refer => b"REFER",
            Self::Message => b"MESSAGE",
            Self::Update => b"UPDATE",
            Self::Extension(m) => m,
        }
    }

    /// Whether the method is one sipedge knows.
    pub fn is_known(&self) -> bool {
        !matches!(self, Self::Extension(_))
    }
}
