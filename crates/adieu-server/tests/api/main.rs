//! Integration tests of the JSON API: a real server on port 0 with its own SQLite file,
//! driven over HTTP.

mod helpers;

mod input;
mod logout;
mod refresh;
mod sessions;
mod storage;
mod timeouts;
