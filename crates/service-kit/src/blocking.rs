//! CPU-heavy work off the async runtime, with bounded concurrency.

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::error::{ApiError, REQUEST_ID, current_request_id};

/// Runs closures on tokio's blocking threads, at most `limit` at a time, so a burst of slow
/// requests (KDFs, RSA keys, image decodes) queues instead of starving the machine.
#[derive(Debug, Clone)]
pub struct BlockingPool {
    permits: Arc<Semaphore>,
}

impl BlockingPool {
    /// A pool running at most `limit` closures at once (at least one).
    pub fn new(limit: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(limit.max(1))),
        }
    }

    /// A pool sized to the machine: one closure per CPU.
    pub fn per_cpu() -> Self {
        Self::new(std::thread::available_parallelism().map_or(2, usize::from))
    }

    /// Runs `work` on a blocking thread; errors it builds still carry the caller's request id.
    pub async fn run<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    {
        let _permit = self.permits.acquire().await.map_err(ApiError::internal)?;
        let request_id = current_request_id().unwrap_or_default();
        tokio::task::spawn_blocking(move || REQUEST_ID.sync_scope(request_id, work))
            .await
            .map_err(ApiError::internal)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_at_most_limit_at_once() {
        let pool = BlockingPool::new(2);
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let (pool, running, peak) = (pool.clone(), running.clone(), peak.clone());
                tokio::spawn(async move {
                    pool.run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                        Ok(())
                    })
                    .await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn errors_keep_the_request_id() {
        let pool = BlockingPool::new(1);
        let error = REQUEST_ID
            .scope(
                "req-42".to_owned(),
                pool.run(|| Err::<(), _>(ApiError::bad_request("no"))),
            )
            .await
            .unwrap_err();
        let body = REQUEST_ID
            .scope("req-42".to_owned(), async move { error.body() })
            .await;
        assert_eq!(body.request_id.as_deref(), Some("req-42"));
        let inside = REQUEST_ID
            .scope("req-43".to_owned(), pool.run(|| Ok(current_request_id())))
            .await
            .unwrap();
        assert_eq!(inside.as_deref(), Some("req-43"));
    }
}
