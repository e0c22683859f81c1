//! Several real `adieu serve` processes sharing one database: the promise that a logout's
//! 200 means no node accepts the session any more, under repetition, faults and crashes.

mod netns;
mod node;

mod admin;
mod crash;
mod faults;
mod forward_auth;
mod oauth;
mod partition;
mod promise;
