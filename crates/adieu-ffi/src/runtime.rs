//! The SDK's own tokio runtime, on which every call runs.
//!
//! Exported async functions hand the foreign side a future that only awaits a task on this
//! runtime. So the HTTP stack always has the reactor it needs, whatever executor polls the
//! future (Kotlin coroutines, Swift tasks, asyncio), and a call, once started, runs to its end
//! on this runtime even if the caller cancels or drops it: a logout that has wiped the device
//! still gets to tell the server, or to queue the revocation. The runtime is one per process and
//! never shut down, so no client can be dropped from a thread where dropping a runtime is
//! forbidden, and no task is cut off halfway by it.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::Runtime;

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            // Calls are I/O-bound and store calls are short: two workers are plenty on a phone.
            .worker_threads(2)
            .thread_name("adieu-sdk")
            .enable_all()
            .build()
            .expect("start the Adieu SDK's threads")
    })
}

/// Runs `task` on the SDK's runtime and waits for it without blocking the caller's thread.
pub(crate) async fn run<T: Send + 'static>(task: impl Future<Output = T> + Send + 'static) -> T {
    match runtime().spawn(task).await {
        Ok(value) => value,
        Err(e) => match e.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            // The runtime is never shut down and tasks are never aborted.
            Err(e) => panic!("SDK task ended unexpectedly: {e}"),
        },
    }
}

/// Runs `task` on the SDK's runtime and blocks the calling thread until it ends (for the
/// constructor, which foreign languages cannot make async).
pub(crate) fn block_on<T: Send + 'static>(task: impl Future<Output = T> + Send + 'static) -> T {
    let (done, result) = std::sync::mpsc::sync_channel(1);
    runtime().spawn(async move {
        let _ = done.send(task.await);
    });
    result.recv().expect("SDK task panicked")
}
