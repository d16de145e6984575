//! The function-instance loop: wait for an invocation, run the handler, report its result.

use crate::syscall;

/// Serves invocations with `handler` until the kernel says to shut down, then exits with 0.
///
/// A handler returns `Ok(result)` or, when its own self-check failed, `Err(code)`: the instance
/// then exits with that code, so a wrong answer fails the run instead of passing silently.
pub fn serve(handler: fn(&[u8]) -> Result<u64, u64>) -> ! {
    serve_with(handler)
}

/// Serves invocations like [`serve`], with a handler that keeps state between invocations (a
/// runtime's instantiated module, for example).
pub fn serve_with(mut handler: impl FnMut(&[u8]) -> Result<u64, u64>) -> ! {
    let mut payload = [0u8; abi::PAYLOAD_MAX_BYTES as usize];
    loop {
        let length = match syscall::invoke_wait(&mut payload) {
            Ok(0) => syscall::exit(0),
            Ok(length) => length,
            Err(error) => {
                crate::println!("faas: invoke_wait failed: {error}");
                syscall::exit(1)
            }
        };
        match handler(&payload[..length]) {
            Ok(result) => {
                if syscall::invoke_done(result).is_err() {
                    syscall::exit(1);
                }
            }
            Err(code) => syscall::exit(code),
        }
    }
}
