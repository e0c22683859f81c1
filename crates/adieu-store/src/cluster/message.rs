//! The messages nodes send each other on the notification channel, and their wire format.
//!
//! A payload is a one-letter tag and its fields, separated by single spaces:
//!
//! | message | payload |
//! |---|---|
//! | one chunk of a revocation | `r <origin> <rev id> <last: 0 or 1> <session id>,<session id>,…` |
//! | an acknowledgement | `a <origin> <rev id> <node>` |
//! | a heartbeat | `h <node> <seq>` |
//!
//! Ids are non-empty printable ASCII without spaces or commas, as `adieu_core::new_id` makes
//! them. Every message has exactly one text: [`Message::parse`] refuses anything that
//! [`Message::encode`] would not have written, so a node never acts on a payload it only
//! half understood.

/// Session ids per revocation chunk: 200 ids of 32 characters keep a payload well under
/// [`MAX_PAYLOAD`].
pub const IDS_PER_MESSAGE: usize = 200;
/// PostgreSQL refuses a payload of this many bytes or more, so none can arrive.
pub const MAX_PAYLOAD: usize = 8000;

/// One notification on the cluster channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Sessions a revocation ended. A revocation of many sessions goes out as several
    /// chunks in one transaction (see [`Message::revocation`]); the last one asks every
    /// other caching node to acknowledge.
    Revoke {
        /// The revoking node, which waits for the acknowledgements.
        origin: String,
        /// The revocation, the same in all its chunks.
        rev_id: String,
        /// Whether this is the revocation's last chunk.
        last: bool,
        /// The ended sessions; never empty.
        session_ids: Vec<String>,
    },
    /// A node has evicted the sessions of every chunk of a revocation.
    Ack {
        /// The revoking node, the only one that reads this acknowledgement.
        origin: String,
        /// The revocation acknowledged.
        rev_id: String,
        /// The acknowledging node.
        node: String,
    },
    /// A lease renewal. When its sender hears it back, it has heard every revocation
    /// committed before it.
    Heartbeat {
        /// The renewing node, the only one that reads this heartbeat.
        node: String,
        /// Which of the node's renewals this is.
        seq: u64,
    },
}

/// Why a payload is not a [`Message`]. The text names the fault, never the payload's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Nothing at all.
    #[error("empty payload")]
    Empty,
    /// Longer than PostgreSQL delivers.
    #[error("payload of {0} bytes, over the limit of {MAX_PAYLOAD}")]
    TooLong(usize),
    /// A byte outside ASCII.
    #[error("payload is not ASCII")]
    NotAscii,
    /// A tag no message has.
    #[error("unknown message tag")]
    UnknownTag,
    /// Too few or too many fields for the tag.
    #[error("expected {expected} fields after the tag, found {found}")]
    FieldCount {
        /// Fields the tag needs.
        expected: usize,
        /// Fields the payload has.
        found: usize,
    },
    /// An id that is empty or has a character ids never have.
    #[error("invalid {0}")]
    Id(&'static str),
    /// A number that is not plain decimal digits or out of range.
    #[error("invalid {0}")]
    Number(&'static str),
    /// The last-chunk flag is neither `0` nor `1`.
    #[error("invalid last-chunk flag")]
    Flag,
}

impl Message {
    /// The chunks announcing a revocation of `session_ids`, in order; none for no sessions.
    pub fn revocation(origin: &str, rev_id: &str, session_ids: &[String]) -> Vec<Self> {
        let chunks = session_ids.chunks(IDS_PER_MESSAGE);
        let count = chunks.len();
        chunks
            .enumerate()
            .map(|(i, chunk)| Self::Revoke {
                origin: origin.to_owned(),
                rev_id: rev_id.to_owned(),
                last: i + 1 == count,
                session_ids: chunk.to_vec(),
            })
            .collect()
    }

    /// The payload to notify.
    pub fn encode(&self) -> String {
        let payload = match self {
            Self::Revoke {
                origin,
                rev_id,
                last,
                session_ids,
            } => format!(
                "r {origin} {rev_id} {} {}",
                u8::from(*last),
                session_ids.join(",")
            ),
            Self::Ack {
                origin,
                rev_id,
                node,
            } => format!("a {origin} {rev_id} {node}"),
            Self::Heartbeat { node, seq } => format!("h {node} {seq}"),
        };
        debug_assert_eq!(
            Self::parse(&payload).as_ref(),
            Ok(self),
            "a message whose ids are not ids, or a revocation of no sessions"
        );
        payload
    }

    /// Reads a payload. Anything [`encode`](Self::encode) would not have written is an error.
    pub fn parse(payload: &str) -> Result<Self, ParseError> {
        if payload.is_empty() {
            return Err(ParseError::Empty);
        }
        if payload.len() >= MAX_PAYLOAD {
            return Err(ParseError::TooLong(payload.len()));
        }
        if !payload.is_ascii() {
            return Err(ParseError::NotAscii);
        }
        let mut fields = payload.split(' ');
        match fields.next().unwrap_or_default() {
            "r" => {
                let [origin, rev_id, last, session_ids] = exactly(fields)?;
                Ok(Self::Revoke {
                    origin: id(origin, "origin")?,
                    rev_id: id(rev_id, "revocation id")?,
                    last: match last {
                        "0" => false,
                        "1" => true,
                        _ => return Err(ParseError::Flag),
                    },
                    session_ids: session_ids
                        .split(',')
                        .map(|s| id(s, "session id"))
                        .collect::<Result<_, _>>()?,
                })
            }
            "a" => {
                let [origin, rev_id, node] = exactly(fields)?;
                Ok(Self::Ack {
                    origin: id(origin, "origin")?,
                    rev_id: id(rev_id, "revocation id")?,
                    node: id(node, "node id")?,
                })
            }
            "h" => {
                let [node, seq] = exactly(fields)?;
                Ok(Self::Heartbeat {
                    node: id(node, "node id")?,
                    seq: number(seq, "heartbeat number")?,
                })
            }
            _ => Err(ParseError::UnknownTag),
        }
    }
}

/// The `N` fields after the tag, if there are exactly that many.
fn exactly<'a, const N: usize>(
    fields: impl Iterator<Item = &'a str>,
) -> Result<[&'a str; N], ParseError> {
    let fields: Vec<&str> = fields.collect();
    <[&str; N]>::try_from(fields).map_err(|fields| ParseError::FieldCount {
        expected: N,
        found: fields.len(),
    })
}

/// An id: non-empty, printable ASCII, no space or comma (the separators).
fn id(field: &str, what: &'static str) -> Result<String, ParseError> {
    let valid = !field.is_empty() && field.bytes().all(|b| b.is_ascii_graphic() && b != b',');
    if valid {
        Ok(field.to_owned())
    } else {
        Err(ParseError::Id(what))
    }
}

/// A number as `u64`'s `Display` writes it: decimal digits, no sign, no leading zero.
fn number(field: &str, what: &'static str) -> Result<u64, ParseError> {
    let canonical = !field.is_empty()
        && field.bytes().all(|b| b.is_ascii_digit())
        && (field == "0" || !field.starts_with('0'));
    if !canonical {
        return Err(ParseError::Number(what));
    }
    field.parse().map_err(|_| ParseError::Number(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|_| adieu_core::new_id()).collect()
    }

    fn round_trip(message: &Message) {
        let payload = message.encode();
        assert_eq!(Message::parse(&payload).as_ref(), Ok(message), "{payload}");
    }

    #[test]
    fn every_message_survives_encoding_and_parsing() {
        for last in [false, true] {
            for n in [1, 2, IDS_PER_MESSAGE] {
                round_trip(&Message::Revoke {
                    origin: adieu_core::new_id(),
                    rev_id: adieu_core::new_id(),
                    last,
                    session_ids: ids(n),
                });
            }
        }
        round_trip(&Message::Ack {
            origin: adieu_core::new_id(),
            rev_id: adieu_core::new_id(),
            node: adieu_core::new_id(),
        });
        for seq in [0, 1, 10, u64::MAX] {
            round_trip(&Message::Heartbeat {
                node: adieu_core::new_id(),
                seq,
            });
        }
    }

    #[test]
    fn the_wire_format_is_the_one_earlier_nodes_speak() {
        let revoke = Message::Revoke {
            origin: "n1".into(),
            rev_id: "rev".into(),
            last: true,
            session_ids: vec!["s1".into(), "s2".into()],
        };
        let ack = Message::Ack {
            origin: "n1".into(),
            rev_id: "rev".into(),
            node: "n2".into(),
        };
        let heartbeat = Message::Heartbeat {
            node: "n1".into(),
            seq: 42,
        };
        for (message, payload) in [
            (revoke, "r n1 rev 1 s1,s2"),
            (ack, "a n1 rev n2"),
            (heartbeat, "h n1 42"),
        ] {
            assert_eq!(message.encode(), payload);
            assert_eq!(Message::parse(payload), Ok(message));
        }
        assert!(matches!(
            Message::parse("r n1 rev 0 s1"),
            Ok(Message::Revoke { last: false, .. })
        ));
    }

    #[test]
    fn a_revocation_is_cut_into_chunks_and_only_the_last_says_so() {
        assert!(Message::revocation("n1", "rev", &[]).is_empty());
        for (n, sizes) in [
            (1, vec![1]),
            (IDS_PER_MESSAGE, vec![IDS_PER_MESSAGE]),
            (IDS_PER_MESSAGE + 1, vec![IDS_PER_MESSAGE, 1]),
            (
                2 * IDS_PER_MESSAGE + 50,
                vec![IDS_PER_MESSAGE, IDS_PER_MESSAGE, 50],
            ),
        ] {
            let sessions = ids(n);
            let chunks = Message::revocation("n1", "rev", &sessions);
            let mut heard = Vec::new();
            let mut got_sizes = Vec::new();
            for (i, chunk) in chunks.iter().enumerate() {
                let Message::Revoke {
                    origin,
                    rev_id,
                    last,
                    session_ids,
                } = Message::parse(&chunk.encode()).unwrap()
                else {
                    panic!("not a revocation: {chunk:?}");
                };
                assert_eq!((origin.as_str(), rev_id.as_str()), ("n1", "rev"));
                assert_eq!(last, i + 1 == chunks.len());
                got_sizes.push(session_ids.len());
                heard.extend(session_ids);
            }
            assert_eq!(got_sizes, sizes);
            assert_eq!(heard, sessions);
        }
    }

    #[test]
    fn a_full_chunk_fits_in_a_payload() {
        let chunk = Message::Revoke {
            origin: adieu_core::new_id(),
            rev_id: adieu_core::new_id(),
            last: true,
            session_ids: ids(IDS_PER_MESSAGE),
        };
        assert!(chunk.encode().len() < MAX_PAYLOAD);
    }

    #[test]
    fn malformed_payloads_are_refused_with_the_fault_named() {
        use ParseError::*;
        let fields = |expected, found| FieldCount { expected, found };
        for (payload, fault) in [
            ("", Empty),
            // Unknown tags.
            (" ", UnknownTag),
            ("x n1 rev", UnknownTag),
            ("H n1 1", UnknownTag),
            ("hh n1 1", UnknownTag),
            (" h n1 1", UnknownTag),
            // Missing fields.
            ("h", fields(2, 0)),
            ("h n1", fields(2, 1)),
            ("a n1 rev", fields(3, 2)),
            ("r n1 rev 1", fields(4, 3)),
            ("r", fields(4, 0)),
            // Extra fields, a trailing space among them.
            ("h n1 1 x", fields(2, 3)),
            ("h n1 1 ", fields(2, 3)),
            ("a n1 rev n2 n3", fields(3, 4)),
            ("r n1 rev 1 s1 s2", fields(4, 5)),
            // Empty ids, or ids with separators or control characters.
            ("h  1", Id("node id")),
            ("a n1  n2", Id("revocation id")),
            ("r  rev 1 s1", Id("origin")),
            ("r n1 rev 1 ", Id("session id")),
            ("r n1 rev 1 s1,,s2", Id("session id")),
            ("r n1 rev 1 s1,", Id("session id")),
            ("r n1 rev 1 ,s1", Id("session id")),
            ("a n1 rev n,2", Id("node id")),
            ("h n\t1 1", Id("node id")),
            ("h n\u{0}1 1", Id("node id")),
            ("a n1 rev n2\n", Id("node id")),
            // Numbers that are not, or not as `encode` writes them, or too large.
            ("h n1 x", Number("heartbeat number")),
            ("h n1 -1", Number("heartbeat number")),
            ("h n1 +1", Number("heartbeat number")),
            ("h n1 01", Number("heartbeat number")),
            ("h n1 1.0", Number("heartbeat number")),
            ("h n1 0x1", Number("heartbeat number")),
            ("h n1 18446744073709551616", Number("heartbeat number")),
            (
                "h n1 99999999999999999999999999",
                Number("heartbeat number"),
            ),
            // Last-chunk flags other than 0 and 1.
            ("r n1 rev 2 s1", Flag),
            ("r n1 rev yes s1", Flag),
            ("r n1 rev  s1", Flag),
            // Beyond ASCII, wherever it is.
            ("h né 1", NotAscii),
            ("h n1 \u{661}", NotAscii),
            ("r n1 rev 1 s1,s\u{b2}", NotAscii),
            ("\u{feff}h n1 1", NotAscii),
            ("h\u{a0}n1 1", NotAscii),
        ] {
            assert_eq!(Message::parse(payload), Err(fault), "{payload:?}");
        }
    }

    #[test]
    fn payloads_longer_than_postgresql_delivers_are_refused() {
        let just_fits = format!("h {} 1", "n".repeat(MAX_PAYLOAD - 5));
        assert_eq!(just_fits.len(), MAX_PAYLOAD - 1);
        assert!(Message::parse(&just_fits).is_ok());
        let one_more = format!("h {} 1", "n".repeat(MAX_PAYLOAD - 4));
        assert_eq!(
            Message::parse(&one_more),
            Err(ParseError::TooLong(MAX_PAYLOAD))
        );
        let huge_number = format!("h n1 {}", "9".repeat(10_000));
        let many_ids = format!("r n1 rev 1 {}", ids(10_000).join(","));
        let huge_non_ascii = "é".repeat(1 << 20);
        let commas = ",".repeat(1 << 20);
        for payload in [huge_number, many_ids, huge_non_ascii, commas] {
            assert_eq!(
                Message::parse(&payload),
                Err(ParseError::TooLong(payload.len()))
            );
        }
    }

    /// Cuts and single-character changes of valid payloads: `parse` must never panic, and
    /// whatever it accepts must be exactly what `encode` writes.
    #[test]
    fn damaged_payloads_never_panic_and_nothing_is_accepted_in_two_spellings() {
        let valid = [
            "r n1 rev 1 s1,s2,s3",
            "r n1 rev 0 s1",
            "a n1 rev n2",
            "h n1 42",
            "h n1 0",
        ];
        let replacements = [
            " ",
            ",",
            "0",
            "1",
            "9",
            "x",
            "\0",
            "\n",
            "\u{7f}",
            "é",
            "\u{10ffff}",
        ];
        let mut damaged = Vec::new();
        for payload in valid {
            for end in 0..=payload.len() {
                damaged.push(payload[..end].to_owned());
                damaged.push(payload[end..].to_owned());
                for replacement in replacements {
                    let after = (end + 1).min(payload.len());
                    damaged.push(format!(
                        "{}{replacement}{}",
                        &payload[..end],
                        &payload[after..]
                    ));
                    damaged.push(format!(
                        "{}{replacement}{}",
                        &payload[..end],
                        &payload[end..]
                    ));
                }
            }
        }
        for payload in &damaged {
            if let Ok(message) = Message::parse(payload) {
                assert_eq!(&message.encode(), payload);
            }
        }
    }
}
