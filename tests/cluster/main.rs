//! Several real `adieu serve` processes sharing one database: the promise that a logout's
//! 200 means no node accepts the session any more, under repetition, faults and restarts,
//! and that it is sent only once the revocation is on stable storage.

mod netns;
mod node;
mod strace;

mod admin;
mod durability;
mod faults;
mod forward_auth;
mod oauth;
mod partition;
mod promise;
mod restart;
