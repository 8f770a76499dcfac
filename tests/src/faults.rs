//! Faults forced on the store, where luck would decide them: a response lost after DynamoDB
//! applied the write, and a competing write run between a writer's read and its transaction.

use appkeys::domain::limits::Limits;
use appkeys::domain::Clock;
use appkeys::lambda::sdk::Budget;
use appkeys::store::Store;
use aws_sdk_dynamodb::config::SharedInterceptor;
use devkit::guard::sdk;

use crate::app::TestApi;

/// Loses the response of the first successful attempt of one DynamoDB operation, as a dropped
/// connection or an attempt timeout does after the server has applied the request: the SDK
/// retries the same request, which meets the state the lost attempt left behind.
#[derive(Debug, Clone)]
pub struct LoseFirstResponse {
    operation: &'static str,
    lost: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl LoseFirstResponse {
    pub fn of(operation: &'static str) -> Self {
        Self {
            operation,
            lost: Default::default(),
        }
    }

    /// How many responses it has lost (at most one).
    pub fn lost(&self) -> usize {
        self.lost.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// A store over `t`'s table whose client loses that response.
    pub async fn store(&self, t: &TestApi) -> Store {
        t.store_with(Budget::MANAGEMENT, [SharedInterceptor::new(self.clone())])
            .await
    }
}

impl aws_sdk_dynamodb::config::Intercept for LoseFirstResponse {
    fn name(&self) -> &'static str {
        "LoseFirstResponse"
    }

    fn modify_before_attempt_completion(
        &self,
        context: &mut aws_sdk_dynamodb::config::interceptors::FinalizerInterceptorContextMut<'_>,
        _components: &aws_sdk_dynamodb::config::RuntimeComponents,
        cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        use aws_smithy_runtime_api::client::orchestrator::{Metadata, OrchestratorError};
        let ours = cfg
            .load::<Metadata>()
            .is_some_and(|m| m.name() == self.operation);
        let Some(outcome) = context.output_or_error_mut() else {
            return Ok(());
        };
        if ours
            && outcome.is_ok()
            && self
                .lost
                .compare_exchange(
                    0,
                    1,
                    std::sync::atomic::Ordering::SeqCst,
                    std::sync::atomic::Ordering::SeqCst,
                )
                .is_ok()
        {
            *outcome = Err(OrchestratorError::timeout("the response was lost".into()));
        }
        Ok(())
    }
}

type Competitor =
    Box<dyn FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send>;

/// Forces an interleaving: runs a competing write to completion after a store has read what it
/// read and right before its first transaction is sent, so that the transaction meets a changed
/// table, as a concurrent request would make it on a bad day. Counts the transactions the store
/// sends, to prove that it noticed and tried again.
#[derive(Clone)]
pub struct Interleave {
    competitor: std::sync::Arc<std::sync::Mutex<Option<Competitor>>>,
    transactions: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// Before which of the store's transactions (1 = its first) the competitor runs.
    before: usize,
}

impl Interleave {
    /// `competitor` runs on a runtime of its own (build its clients inside it).
    pub fn before_first_transaction<F, Fut>(competitor: F) -> Self
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        Self::before_transaction(1, competitor)
    }

    /// The competitor runs right before the store's `number`th transaction (1 = its first).
    pub fn before_transaction<F, Fut>(number: usize, competitor: F) -> Self
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let boxed: Competitor = Box::new(move || Box::pin(competitor()));
        Self {
            competitor: std::sync::Arc::new(std::sync::Mutex::new(Some(boxed))),
            transactions: Default::default(),
            before: number,
        }
    }

    /// How many `TransactWriteItems` the store has sent.
    pub fn transactions(&self) -> usize {
        self.transactions.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Whether the competing write has run.
    pub fn competed(&self) -> bool {
        self.competitor.lock().unwrap().is_none()
    }

    /// A store over `t`'s table, with its clock, whose client runs the competitor.
    pub async fn store(&self, t: &TestApi) -> Store {
        t.store_with(Budget::MANAGEMENT, [SharedInterceptor::new(self.clone())])
            .await
    }
}

impl std::fmt::Debug for Interleave {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interleave")
            .field("transactions", &self.transactions())
            .finish()
    }
}

impl aws_sdk_dynamodb::config::Intercept for Interleave {
    fn name(&self) -> &'static str {
        "Interleave"
    }

    // Once per operation, after its configuration (which names the operation) is applied.
    fn read_before_serialization(
        &self,
        _context: &aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef<
            '_,
        >,
        _components: &aws_sdk_dynamodb::config::RuntimeComponents,
        cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        use aws_smithy_runtime_api::client::orchestrator::Metadata;
        if cfg
            .load::<Metadata>()
            .is_none_or(|m| m.name() != "TransactWriteItems")
        {
            return Ok(());
        }
        let number = self
            .transactions
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        if number != self.before {
            return Ok(());
        }
        let competitor = self.competitor.lock().unwrap().take();
        if let Some(competitor) = competitor {
            // Interceptors are synchronous: run the competitor to completion on a thread and
            // runtime of its own while this request waits.
            std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime")
                    .block_on(competitor())
            })
            .join()
            .expect("the competing write ran");
        }
        Ok(())
    }
}

/// A store over `table` with a client of its own, for a competing write inside an [`Interleave`].
pub async fn fresh_store(table: &str, limits: Limits, clock: Clock) -> Store {
    let sdk = sdk(Budget::MANAGEMENT).await;
    Store::new(aws_sdk_dynamodb::Client::new(&sdk), table, limits).with_clock(clock)
}
