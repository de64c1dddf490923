//! TEMPORARY stand-in until the self-healing connection lands (branch wt-conn).
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, Pipeline, RedisFuture, Value};

#[derive(Debug, Clone, Default)]
pub struct ConnOptions {}

#[derive(Clone)]
pub struct RedisConn {
    inner: ConnectionManager,
    client: redis::Client,
}

impl RedisConn {
    pub async fn connect(url: &str, _options: ConnOptions) -> Result<RedisConn, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let cfg = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(3)
            .set_max_delay(Duration::from_secs(2));
        let inner = ConnectionManager::new_with_config(client.clone(), cfg).await?;
        Ok(RedisConn { inner, client })
    }

    pub async fn dedicated(&self) -> Result<RedisConn, redis::RedisError> {
        let cfg = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(None);
        let inner = ConnectionManager::new_with_config(self.client.clone(), cfg).await?;
        Ok(RedisConn { inner, client: self.client.clone() })
    }
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        self.inner.req_packed_command(cmd)
    }
    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        self.inner.req_packed_commands(cmd, offset, count)
    }
    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}
