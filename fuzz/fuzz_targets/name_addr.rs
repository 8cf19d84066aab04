//! name-addr / addr-spec and route values: never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_wire::{parse_route, Contact, NameAddr};

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = NameAddr::parse(data) {
        let _ = (a.tag(), a.display_unquoted(), a.params.iter().count());
    }
    let _ = Contact::parse(data);
    let _ = parse_route(data);
});
