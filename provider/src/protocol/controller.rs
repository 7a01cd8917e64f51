//! go-plugin's host services: `GRPCController.Shutdown` (Terraform's "you may
//! exit now") and `GRPCStdio` (an empty stream that stays open until shutdown).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::watch;
use tonic::{Request, Response, Status};

use super::proto::plugin as pb;

/// A cloneable one-way "shut down now" flag shared by the controller, the
/// server loop and the stdio stream.
#[derive(Debug, Clone)]
pub struct ShutdownSignal {
    tx: Arc<watch::Sender<bool>>,
}

impl Default for ShutdownSignal {
    fn default() -> Self {
        Self::new()
    }
}

impl ShutdownSignal {
    /// A signal not yet triggered.
    pub fn new() -> Self {
        ShutdownSignal {
            tx: Arc::new(watch::channel(false).0),
        }
    }

    /// Triggers the signal (idempotent).
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    /// True once [`ShutdownSignal::trigger`] was called.
    pub fn is_triggered(&self) -> bool {
        *self.tx.borrow()
    }

    /// Resolves once the signal is triggered (at once if it already was).
    pub fn wait(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.tx.subscribe();
        async move {
            // Err only if the sender is gone, which `self.tx` prevents while
            // any clone lives; either way there is nothing more to wait for.
            let _ = rx.wait_for(|stop| *stop).await;
        }
    }
}

/// Serves `plugin.GRPCController` and `plugin.GRPCStdio`.
#[derive(Debug, Clone)]
pub struct Controller {
    signal: ShutdownSignal,
}

impl Controller {
    /// A controller that triggers `signal` on `Shutdown`.
    pub fn new(signal: ShutdownSignal) -> Self {
        Controller { signal }
    }

    /// The `plugin.GRPCController` tonic service.
    pub fn controller_service(&self) -> pb::grpc_controller_server::GrpcControllerServer<Self> {
        pb::grpc_controller_server::GrpcControllerServer::new(self.clone())
    }

    /// The `plugin.GRPCStdio` tonic service.
    pub fn stdio_service(&self) -> pb::grpc_stdio_server::GrpcStdioServer<Self> {
        pb::grpc_stdio_server::GrpcStdioServer::new(self.clone())
    }
}

#[tonic::async_trait]
impl pb::grpc_controller_server::GrpcController for Controller {
    async fn shutdown(&self, _: Request<pb::Empty>) -> Result<Response<pb::Empty>, Status> {
        tracing::debug!("GRPCController.Shutdown: shutting down");
        self.signal.trigger();
        Ok(Response::new(pb::Empty {}))
    }
}

/// A stream that yields nothing and ends when a future completes.
pub struct EndsOnShutdown {
    done: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl tokio_stream::Stream for EndsOnShutdown {
    type Item = Result<pb::StdioData, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.done.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[tonic::async_trait]
impl pb::grpc_stdio_server::GrpcStdio for Controller {
    type StreamStdioStream = EndsOnShutdown;

    async fn stream_stdio(
        &self,
        _: Request<()>,
    ) -> Result<Response<Self::StreamStdioStream>, Status> {
        Ok(Response::new(EndsOnShutdown {
            done: Box::pin(self.signal.wait()),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pb::grpc_controller_server::GrpcController;
    use std::time::Duration;

    #[tokio::test]
    async fn shutdown_triggers_signal_and_ends_stdio() {
        use pb::grpc_stdio_server::GrpcStdio;
        use tokio_stream::StreamExt;
        let signal = ShutdownSignal::new();
        let c = Controller::new(signal.clone());
        let mut stream = c.stream_stdio(Request::new(())).await.unwrap().into_inner();
        assert!(!signal.is_triggered());
        let pending = tokio::time::timeout(Duration::from_millis(50), stream.next()).await;
        assert!(
            pending.is_err(),
            "stdio stream must stay open before shutdown"
        );
        c.shutdown(Request::new(pb::Empty {})).await.unwrap();
        assert!(signal.is_triggered());
        let end = tokio::time::timeout(Duration::from_secs(1), stream.next()).await;
        assert!(matches!(end, Ok(None)), "stdio stream must end on shutdown");
        tokio::time::timeout(Duration::from_secs(1), signal.wait())
            .await
            .unwrap();
    }
}
