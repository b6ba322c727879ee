//! FlowForge crypto service: hashing, HMAC and webhook signatures, authenticated encryption,
//! key generation, signatures, JWT, password hashing, random values and encodings.
//!
//! [`router`] gives the service's routes; `main.rs` wraps them with the service kit.

pub mod domain;
