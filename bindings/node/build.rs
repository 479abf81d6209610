//! Links the addon the way Node.js loads it (undefined `napi_*` symbols resolved
//! by the running node process).
fn main() {
    napi_build::setup();
}
