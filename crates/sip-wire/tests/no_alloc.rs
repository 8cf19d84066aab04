//! Indexing a realistic 1 KB INVITE with up to 64 headers makes zero heap allocations, and so do
//! the accessors the hot path uses (top Via branch, Call-ID, CSeq, From tag).
#![allow(unsafe_code)] // a counting global allocator; nothing else in this file is unsafe
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::Bytes;
use sip_wire::Message;

struct Counting;

thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// contract of `GlobalAlloc` holds exactly as it does for `System`; the thread-local counter is
// a `Cell<usize>` with a const initializer, so touching it never allocates or recurses.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded unchanged; see the impl comment.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; see the impl comment.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded unchanged; see the impl comment.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCS.with(Cell::get);
    let r = f();
    (r, ALLOCS.with(Cell::get) - before)
}

/// A 1 KB INVITE padded with extension headers up to `headers` header lines.
fn invite(headers: usize) -> Vec<u8> {
    let mut m = String::from("INVITE sip:bob@example.com SIP/2.0\r\n");
    let base = [
        "Via: SIP/2.0/TLS 198.51.100.23:52144;branch=z9hG4bK.7cE1x9;rport",
        "Max-Forwards: 70",
        "Route: <sip:edge1.example.net;lr>",
        "From: \"Carol\" <sip:carol@example.com>;tag=a84f2c19",
        "To: <sip:bob@example.com>",
        "Call-ID: 9b1d7f3e-0c55-4a1b-b0d2-6e7c3f8a2d41",
        "CSeq: 1 INVITE",
        "Contact: <sip:carol@198.51.100.23:52144;transport=tls;ob>;+sip.instance=\"<urn:uuid:6c1b2e8f-4a3d-4f70-9b2e-1d5c7a90e3b4>\"",
        "Supported: outbound, 100rel, timer, replaces",
        "Content-Type: application/sdp",
    ];
    for h in base {
        m.push_str(h);
        m.push_str("\r\n");
    }
    for i in base.len()..headers - 2 {
        m.push_str(&format!("X-H{i}: v\r\n"));
    }
    let body = "v=0\r\no=carol 2890844526 2890844526 IN IP4 198.51.100.23\r\ns=-\r\nc=IN IP4 198.51.100.23\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
    let pad = 1024usize.saturating_sub(m.len() + body.len() + 24);
    m.push_str(&format!("X-Pad: {}\r\n", "p".repeat(pad)));
    m.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    m.into_bytes()
}

#[test]
fn indexing_a_1k_invite_allocates_nothing() {
    for headers in [16, 32, 64] {
        let bytes = Bytes::from(invite(headers));
        assert!(bytes.len() >= 1000, "{}", bytes.len());
        let (summary, n) = allocations(|| {
            let m = Message::parse_datagram(bytes.clone()).unwrap();
            let via = m.top_via().unwrap().unwrap();
            let branch = via.branch().unwrap().len();
            let call_id = m.call_id().unwrap().len();
            let cseq = m.cseq().unwrap().unwrap().seq;
            let tag = m.from().unwrap().unwrap().tag().unwrap().len();
            (m.header_count(), branch, call_id, cseq, tag)
        });
        assert_eq!(summary.0, headers, "header lines");
        assert_eq!(summary.1, b"z9hG4bK.7cE1x9".len());
        assert_eq!(n, 0, "{headers} headers: {n} allocations");
    }
}

#[test]
fn the_counter_sees_allocations() {
    // Guards the test above: if the counter were broken it would pass vacuously.
    let (_, n) = allocations(|| vec![1u8; 10]);
    assert!(n >= 1);
    let (_, spilled) =
        allocations(|| Message::parse_datagram(Bytes::from(invite(80))).map(|m| m.header_count()));
    assert!(
        spilled >= 1,
        "a message over INLINE_HEADERS spills its index to the heap"
    );
}
