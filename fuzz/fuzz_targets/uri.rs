//! URI decoding: never panics; decoded escapes of a parsed user part are stable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_wire::Uri;

fuzz_target!(|data: &[u8]| {
    if let Ok(Uri::Sip(u)) = Uri::parse(data) {
        if let Some(user) = u.user {
            let d = user.decode();
            assert!(d.len() <= user.raw().len());
            assert!(user.eq_decoded(&user));
        }
        let _ = (
            u.params().count(),
            u.headers(),
            u.has_lr(),
            u.transport(),
            u.host.is_nonsense_destination(),
        );
    }
});
