//! The SDK against a real server on port 0 (one test binary, so the suite links once).

mod account;
mod failing_store;
mod file_store;
mod foreign;
mod helpers;
mod logout;
mod race;
mod unreachable;
