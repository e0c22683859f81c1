//! The cluster's notification payloads (PostgreSQL `NOTIFY` on `adieu_events`):
//! `adieu_store`'s `Message`.
//!
//! - Any payload: `parse` never panics, and what it accepts `encode` writes back byte for
//!   byte (one spelling per message), within PostgreSQL's payload limit.
//! - Messages built from the input, with ids as `new_id` makes them or any valid ones:
//!   `parse(encode(m)) == m`.
//! - A revocation's chunks carry the sessions in order, at most `IDS_PER_MESSAGE` each, only
//!   the last says it is the last, and each fits in a payload.
#![no_main]

use adieu_store::fuzzing::{IDS_PER_MESSAGE, MAX_PAYLOAD, Message};
use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(payload) = std::str::from_utf8(data) {
        if let Ok(message) = Message::parse(payload) {
            assert_eq!(message.encode(), payload);
            assert!(payload.len() < MAX_PAYLOAD);
            if let Message::Revoke { session_ids, .. } = &message {
                assert!(!session_ids.is_empty());
            }
        }
    }
    let mut u = Unstructured::new(data);
    if let Ok(message) = message(&mut u) {
        let payload = message.encode();
        assert_eq!(
            Message::parse(&payload).as_ref(),
            Ok(&message),
            "{payload:?}"
        );
    }
    let _ = revocation(&mut u);
});

/// An id as the nodes make them: 32 hex digits; or, now and then, any valid id.
fn id(u: &mut Unstructured<'_>) -> arbitrary::Result<String> {
    if u.ratio(1, 4)? {
        let raw = String::arbitrary(u)?;
        let valid: String = raw
            .chars()
            .filter(|c| c.is_ascii_graphic() && *c != ',')
            .take(64)
            .collect();
        if !valid.is_empty() {
            return Ok(valid);
        }
    }
    let bytes = <[u8; 16]>::arbitrary(u)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn message(u: &mut Unstructured<'_>) -> arbitrary::Result<Message> {
    Ok(match u.int_in_range(0..=2)? {
        0 => {
            let origin = id(u)?;
            let rev_id = id(u)?;
            let last = bool::arbitrary(u)?;
            let n = u.int_in_range(1..=8)?;
            let session_ids = (0..n).map(|_| id(u)).collect::<Result<_, _>>()?;
            Message::Revoke {
                origin,
                rev_id,
                last,
                session_ids,
            }
        }
        1 => Message::Ack {
            origin: id(u)?,
            rev_id: id(u)?,
            node: id(u)?,
        },
        _ => Message::Heartbeat {
            node: id(u)?,
            seq: u64::arbitrary(u)?,
        },
    })
}

/// Chunks of a revocation of up to three chunks' worth of 32-digit session ids.
fn revocation(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let n = u.int_in_range(0..=3 * IDS_PER_MESSAGE)?;
    let seed = u64::arbitrary(u)?;
    let sessions: Vec<String> = (0..n as u64)
        .map(|i| format!("{:032x}", u128::from(seed ^ i) << 64 | u128::from(i)))
        .collect();
    let chunks = Message::revocation(
        &format!("{seed:032x}"),
        "0123456789abcdef0123456789abcdef",
        &sessions,
    );
    assert_eq!(chunks.len(), n.div_ceil(IDS_PER_MESSAGE));
    let mut heard = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        let payload = chunk.encode();
        assert!(
            payload.len() < MAX_PAYLOAD,
            "a chunk of {} bytes",
            payload.len()
        );
        let Ok(Message::Revoke {
            last, session_ids, ..
        }) = Message::parse(&payload)
        else {
            panic!("a chunk that is not a revocation: {payload:?}");
        };
        assert_eq!(last, i + 1 == chunks.len());
        assert!(session_ids.len() <= IDS_PER_MESSAGE);
        heard.extend(session_ids);
    }
    assert_eq!(heard, sessions);
    Ok(())
}
