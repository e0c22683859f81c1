//! `uniffi-bindgen`, built from the same UniFFI as the library so that the generated Kotlin,
//! Swift and Python always match it:
//! `cargo run -p adieu-ffi --bin uniffi-bindgen -- generate --library target/debug/libadieu_ffi.so --language kotlin --out-dir out`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
