#![no_main]
//! dpkg.log (install instants on apt hosts): any text, any zone; a lookup of what was read.
use pw_core::apt::dpkg_log::DpkgLogInstalls;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut log = DpkgLogInstalls::new();
    for zone in ["UTC", "Europe/Berlin"] {
        if let Ok(zone) = jiff::tz::TimeZone::get(zone) {
            log.add_log(text, &zone);
        }
    }
    let _ = log.len();
    for line in text.lines().take(8) {
        let words: Vec<&str> = line.split_ascii_whitespace().collect();
        if let [.., name_arch, version] = words.as_slice() {
            let (name, arch) = name_arch.split_once(':').unwrap_or((name_arch, "amd64"));
            let _ = log.installed_at(name, arch, version);
        }
    }
});
