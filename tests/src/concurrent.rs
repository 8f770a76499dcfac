//! Truly concurrent requests: tasks on a multi-threaded runtime, released together by a barrier.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::Barrier;

use crate::{TestApi, TestResponse};

/// Runs `count` copies of `request` at once and returns every response.
pub async fn all_at_once<F, Fut>(t: &Arc<TestApi>, count: usize, request: F) -> Vec<TestResponse>
where
    F: Fn(Arc<TestApi>, usize) -> Fut,
    Fut: Future<Output = TestResponse> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(count));
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let barrier = barrier.clone();
            let work = request(t.clone(), i);
            tokio::spawn(async move {
                barrier.wait().await;
                work.await
            })
        })
        .collect();
    let mut responses = Vec::with_capacity(count);
    for task in tasks {
        responses.push(task.await.expect("request task"));
    }
    responses
}

pub fn count_status(responses: &[TestResponse], status: u16) -> usize {
    responses.iter().filter(|r| r.status == status).count()
}

pub fn statuses(responses: &[TestResponse]) -> Vec<u16> {
    responses.iter().map(|r| r.status).collect()
}

/// On the local endpoint, proves the run met simulated conflicts (and so that the store's
/// retries ran); returns how many transactions were cancelled.
pub async fn assert_conflicts_were_simulated(t: &TestApi) -> u64 {
    match t.simulated_conflicts().await {
        Some((transactions, cancelled)) => {
            assert!(
                cancelled > 0,
                "no conflict simulated in {transactions} transactions"
            );
            eprintln!("simulated TransactionConflict: {cancelled} of {transactions} transactions cancelled");
            cancelled
        }
        None => 0,
    }
}
