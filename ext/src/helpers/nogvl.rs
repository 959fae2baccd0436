//! Running Rust with Ruby's GVL released, so that other Ruby threads keep running while this one
//! waits for transfers.

use std::ffi::c_void;
use std::panic::{self, AssertUnwindSafe};
use std::thread;

use magnus::Error;

/// Runs `func` without the GVL.
///
/// Ruby calls `unblock` from another thread when this thread is interrupted (Ctrl-C,
/// `Thread#raise`, `Thread#kill`); it must make `func` return promptly. Once `func` has returned
/// and the GVL is back, Ruby runs pending interrupts: one that raises (or a pending interrupt
/// that raises before `func` even starts) comes back as `Err`, and the value `func` produced is
/// dropped. Unlike wasmtime-rb's `nogvl`, ours takes that unblock function: without it Ctrl-C
/// would wait for the whole download.
///
/// A panic in `func` is caught on the far side and resumed here, so it never unwinds through
/// Ruby's C frames.
pub fn nogvl<F, R, U>(func: F, unblock: &U) -> Result<R, Error>
where
    F: FnOnce() -> R + Send,
    R: Send,
    U: Fn() + Sync,
{
    let mut call = Call::<F, R> {
        func: Some(func),
        result: None,
    };
    let call_ptr: *mut Call<F, R> = &raw mut call;
    let unblock_ptr: *const U = unblock;
    // `rb_nogvl` checks interrupts before and after calling `func` and raises from there, so it
    // runs under `protect`: an exception becomes an `Err` instead of a longjmp over Rust frames.
    let interrupted = magnus::rb_sys::protect(|| {
        // SAFETY: `call_ptr` and `unblock_ptr` point to locals of this function that outlive the
        // `rb_nogvl` call. Ruby calls `run_call` at most once, on this thread, without the GVL;
        // it calls `run_unblock` only while the blocking region is active (possibly from
        // another thread, hence `U: Sync`), never after `rb_nogvl` returns. Nothing with a
        // destructor lives in this frame, so a longjmp out of `rb_nogvl` skips no cleanup.
        unsafe {
            rb_sys::rb_nogvl(
                Some(run_call::<F, R>),
                call_ptr.cast(),
                Some(run_unblock::<U>),
                unblock_ptr.cast_mut().cast(),
                0,
            );
        }
        rb_sys::Qnil as rb_sys::VALUE
    });
    match (call.result, interrupted) {
        (Some(Err(panic)), _) => panic::resume_unwind(panic),
        (_, Err(error)) => Err(error),
        (Some(Ok(value)), Ok(_)) => Ok(value),
        (None, Ok(_)) => unreachable!("rb_nogvl returned normally without calling the function"),
    }
}

struct Call<F, R> {
    func: Option<F>,
    result: Option<thread::Result<R>>,
}

unsafe extern "C" fn run_call<F, R>(data: *mut c_void) -> *mut c_void
where
    F: FnOnce() -> R,
{
    // SAFETY: `data` is the `Call` that `nogvl` owns and does not touch until `rb_nogvl`
    // returns; Ruby calls this function once, so the `&mut` is unique.
    let call = unsafe { &mut *data.cast::<Call<F, R>>() };
    if let Some(func) = call.func.take() {
        call.result = Some(panic::catch_unwind(AssertUnwindSafe(func)));
    }
    std::ptr::null_mut()
}

unsafe extern "C" fn run_unblock<U>(data: *mut c_void)
where
    U: Fn(),
{
    // SAFETY: `data` is the `&U` that `nogvl` holds across `rb_nogvl`, and Ruby calls this only
    // inside that call. `U: Sync` makes the shared access from Ruby's thread sound.
    let unblock = unsafe { &*data.cast_const().cast::<U>() };
    // This runs on one of Ruby's threads, where there is nobody to hand a panic to; unwinding
    // into C would abort instead, so the payload is dropped.
    drop(panic::catch_unwind(AssertUnwindSafe(unblock)));
}
