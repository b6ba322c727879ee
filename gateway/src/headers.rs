//! The header names the gateway reads and writes (DESIGN.md "Headers"), each parsed once: a name
//! given as `&str` is parsed again, and a custom one allocated, on every lookup or insert.
//! Standard names come from `http::header`.

use http::HeaderName;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const API_KEY: HeaderName = HeaderName::from_static("x-api-key");
pub const CONSUMER_ID: HeaderName = HeaderName::from_static("x-consumer-id");
pub const USER_ID: HeaderName = HeaderName::from_static("x-user-id");
pub const CONSUMER_TIER: HeaderName = HeaderName::from_static("x-consumer-tier");
pub const FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub const FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

pub const LIMIT_MINUTE: HeaderName = HeaderName::from_static("x-ratelimit-limit-minute");
pub const REMAINING_MINUTE: HeaderName = HeaderName::from_static("x-ratelimit-remaining-minute");
pub const LIMIT_DAY: HeaderName = HeaderName::from_static("x-ratelimit-limit-day");
pub const REMAINING_DAY: HeaderName = HeaderName::from_static("x-ratelimit-remaining-day");
pub const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
pub const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
pub const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");
