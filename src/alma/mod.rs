//! Carrying change sets into Alma through the Users API (`docs/alma.md`).
//!
//! This module owns the conversation with Alma and what it may change there: [`client`] (the
//! HTTP calls, the key, the rate limit, Alma's errors and thresholds), [`user`] (the user
//! JSON shapes: roles read, compared and written), [`push`] (GET, merge, PUT one account at
//! a time), [`journal`] (each account's push recorded step by step, migration `alma-1`) and
//! [`sync`] (refreshing the account state from Alma). The rule that shapes all of it: Alma's
//! PUT is swap-all, so every body is the live user as Alma returned it with `user_role`
//! replaced, never a user rebuilt from the state.

pub mod client;
pub mod journal;
pub mod push;
pub mod sync;
pub mod user;

use serde::Deserialize;
use std::collections::BTreeMap;

pub use client::{AlmaError, ApiError, Client};

/// Alma's API gateways (Ex Libris Developer Network, "API gateway" by region).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    /// North America.
    Na,
    /// Europe.
    Eu,
    /// Asia Pacific.
    Ap,
    /// Canada.
    Ca,
    /// China (its own domain).
    Cn,
}

impl Region {
    /// The gateway's base URL.
    pub fn base_url(self) -> &'static str {
        match self {
            Region::Na => "https://api-na.hosted.exlibrisgroup.com",
            Region::Eu => "https://api-eu.hosted.exlibrisgroup.com",
            Region::Ap => "https://api-ap.hosted.exlibrisgroup.com",
            Region::Ca => "https://api-ca.hosted.exlibrisgroup.com",
            Region::Cn => "https://api-cn.hosted.exlibrisgroup.com.cn",
        }
    }
}

/// The Alma environment a key belongs to (`GET /almaws/v1/conf/general`: `environment_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// A sandbox (premium or standard).
    Sandbox,
    /// Production.
    Production,
}

impl Environment {
    /// Alma's word for it.
    pub fn word(self) -> &'static str {
        match self {
            Environment::Sandbox => "sandbox",
            Environment::Production => "production",
        }
    }
}

/// When the watcher carries change sets into Alma: `[alma] push`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PushMode {
    /// Only `rolecall push` writes to Alma (the default).
    #[default]
    Manual,
    /// The watcher pushes each submission's accepted lines once it is processed, and
    /// approved lines once they are approved.
    Accepted,
}

impl<'de> Deserialize<'de> for PushMode {
    /// By hand, so that a wrong value names the key (serde's own message names only the
    /// variants).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let word = String::deserialize(d)?;
        match word.as_str() {
            "manual" => Ok(PushMode::Manual),
            "accepted" => Ok(PushMode::Accepted),
            other => Err(serde::de::Error::custom(format!(
                "[alma] push = {other:?}: it is \"manual\" (only `rolecall push` writes to Alma) or \"accepted\" (the watcher pushes)"
            ))),
        }
    }
}

/// `[alma]` in the configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlmaConfig {
    /// The API gateway by region.
    pub region: Option<Region>,
    /// An explicit base URL instead (tests, proxies), e.g. `http://127.0.0.1:8080`.
    pub base_url: Option<String>,
    /// The environment the keys must belong to; checked before the first write.
    pub expect_environment: Option<Environment>,
    /// Calls per second per institution (default 10; Alma allows 25).
    pub max_per_second: Option<u32>,
    /// Stop an institution when Alma's `X-Exl-Api-Remaining` falls below this (default 5000).
    pub stop_below_remaining: Option<u64>,
    /// How long one call may take, in milliseconds (default 30000).
    pub timeout_ms: Option<u64>,
    /// Whether the watcher pushes (`"accepted"`) or leaves it to `rolecall push` (`"manual"`).
    #[serde(default)]
    pub push: PushMode,
    /// Institution code → the NAME of the environment variable holding its API key.
    #[serde(default)]
    pub keys: BTreeMap<String, String>,
}

impl AlmaConfig {
    /// The base URL: `base_url`, else the region's gateway.
    pub fn base(&self) -> Result<String, String> {
        match (&self.base_url, self.region) {
            (Some(url), _) => Ok(url.trim_end_matches('/').to_string()),
            (None, Some(region)) => Ok(region.base_url().to_string()),
            (None, None) => Err(
                "[alma] needs region = \"na\" | \"eu\" | \"ap\" | \"ca\" | \"cn\" (or base_url)"
                    .to_string(),
            ),
        }
    }

    /// The client settings for one institution, its key read from the environment.
    pub fn client(&self, institution: &str) -> Result<Client, AlmaError> {
        let var = self.keys.get(institution).ok_or_else(|| AlmaError::NoKey {
            institution: institution.to_string(),
            why: format!("[alma.keys] has no entry for {institution}"),
        })?;
        let key = std::env::var(var).map_err(|_| AlmaError::NoKey {
            institution: institution.to_string(),
            why: format!("the environment variable {var} is not set"),
        })?;
        let base = self.base().map_err(|why| AlmaError::NoKey {
            institution: institution.to_string(),
            why,
        })?;
        Ok(Client::new(client::Settings {
            institution: institution.to_string(),
            base_url: base,
            key,
            max_per_second: self.max_per_second.unwrap_or(10).max(1),
            stop_below_remaining: self.stop_below_remaining.unwrap_or(5000),
            timeout: std::time::Duration::from_millis(self.timeout_ms.unwrap_or(30_000)),
        }))
    }
}
