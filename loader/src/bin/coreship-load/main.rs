//! `coreship-load`: load a CO-RE probe and print its events.
fn main() {}
