//! Authorization / WWW-Authenticate values: never panic; every parameter is retrievable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_wire::Auth;

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = Auth::parse(data) {
        for (name, v) in a.params() {
            let name = String::from_utf8_lossy(name).into_owned();
            assert!(a.get(&name).is_some());
            let _ = v.unquoted();
        }
        let _ = a.token68();
    }
});
